"""Grafana dashboards as code: <name>.dashboard.py sources, helpers, and the generator."""
