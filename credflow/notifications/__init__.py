"""Notices to applicants, reviewers and badge holders, each delivered exactly once."""
