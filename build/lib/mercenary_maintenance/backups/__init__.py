"""Backups to S3, retention, and restore verification."""
