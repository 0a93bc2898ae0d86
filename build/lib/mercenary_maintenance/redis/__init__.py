"""Redis checks and maintenance actions."""
