"""Emergency maintenance triggered from the UI."""
