"""Security area: vulnerabilities against OSV advisories with patch SLAs, credential age, firewall changes."""
