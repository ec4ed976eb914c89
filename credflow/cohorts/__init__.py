"""Cohorts and milestones: educators on one micro-credential who agreed to connect, and steps worth celebrating."""
