"""Aftercare exporters: one Prometheus exporter per inspection area, one config file."""

__version__ = "0.1.0"
