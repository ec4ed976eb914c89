"""Tests of the lead reviewers' workspace."""
