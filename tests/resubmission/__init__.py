"""Tests of resubmission."""
