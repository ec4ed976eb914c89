"""Thin Prefect task adapters around credflow's domain functions."""
