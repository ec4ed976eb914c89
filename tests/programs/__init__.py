"""Tests of the program admin workspace."""
