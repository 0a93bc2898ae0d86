"""Alert evaluation against the plan's thresholds, with Slack notifications."""
