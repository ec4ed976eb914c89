"""Tests of reviewers."""
