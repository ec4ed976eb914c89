"""credflow: a review pipeline for educator micro-credentials (domain package, no Prefect)."""

__version__ = "0.1.0"
