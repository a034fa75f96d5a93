"""Aftercare test suite."""
