"""Alembic migrations of credflow's database."""
