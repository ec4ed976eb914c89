"""Dispatches: the re-dispatch rule and the leases in the database."""
