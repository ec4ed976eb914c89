"""Helpers shared by the tests: builders, fakes, worlds and the cluster; no test module imports another."""
