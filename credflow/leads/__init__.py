"""Lead reviewers: their waiting adjudications and back-reads, and the back-read report."""
