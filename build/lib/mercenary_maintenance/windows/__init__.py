"""Maintenance windows: the plan's window rules, the timetable the scheduler uses, and
the run-time guard (cutoff, time left in the window)."""
