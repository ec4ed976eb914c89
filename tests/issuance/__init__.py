"""Tests of issuance."""
