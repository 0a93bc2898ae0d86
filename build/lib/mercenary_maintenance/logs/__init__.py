"""Log archival to S3 and temp-file cleanup."""
