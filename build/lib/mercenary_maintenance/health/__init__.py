"""Host, service, endpoint and security checks."""
