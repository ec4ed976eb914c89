"""Tests of assignment."""
