"""The HTTP intake mounted at /api: submissions, upload grants and the local store's upload URLs."""
