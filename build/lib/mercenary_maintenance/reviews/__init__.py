"""Monthly performance and quarterly capacity/access reviews."""
