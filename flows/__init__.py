"""Prefect flows: composition of credflow's tasks, step by step as in the lifecycle."""
