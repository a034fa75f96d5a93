"""Database drivers shared by the database exporter and the link probes: how a
connection is opened and how its failures map to the bounded reasons.

``classify`` in each module answers one of REASONS; each caller maps it onto the
reasons its own metric allows (the database area has no ``tls``, a probe no ``error``).
"""

REASONS = ("timeout", "dns", "auth", "tls", "connect", "error")
