"""The formal-test path: a micro-credential earned by a test scored against a pass mark (issue 12, item 5)."""
