"""aftercare-notify: an Alertmanager webhook receiver forwarding pages to group robots."""
