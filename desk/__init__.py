"""aftercare-desk: the maintenance desk (incidents, service requests, knowledge base)."""
