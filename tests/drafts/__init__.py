"""Tests of credflow.drafts."""
