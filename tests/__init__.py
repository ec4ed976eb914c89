"""The test suite: tests/<area>/ mirrors the code; shared helpers live in tests/utils/."""
