"""Step 10, retention: evidence files deleted after the retention period, records kept."""
