"""Tests of cohorts: who sees whom on the same micro-credential, milestones and their celebration."""
