"""The ``credflow`` command line: intake, catalog checks, status, demo."""
