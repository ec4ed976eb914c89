"""Reports for operators and program admins: cohort progress, decision times and each submission's summary."""
