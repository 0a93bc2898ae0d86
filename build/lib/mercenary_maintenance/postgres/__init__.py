"""PostgreSQL checks and maintenance actions."""
