"""Tests of assessment (the formal test)."""
