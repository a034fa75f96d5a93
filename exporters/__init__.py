"""Aftercare exporters: one Prometheus exporter per inspection area, one config file.

The version is the package's (pyproject.toml), read at run time: exporters.version.
"""
