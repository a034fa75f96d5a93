"""The monthly health-assessment report, computed from the Prometheus HTTP API."""
