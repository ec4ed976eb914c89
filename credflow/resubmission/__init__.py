"""Step 9, the "not yet" branch: exhausted or lapsed chains, reminders and operator unlocks."""
