"""Reviewing: the reviewer pool, assignment, scoring, deadlines, aggregation and calibration."""
