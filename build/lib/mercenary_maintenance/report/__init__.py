"""The audit report: where it is stored, how it is built, and how it reads (json + md)."""
