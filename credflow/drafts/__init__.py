"""Drafts: an applicant's answers and files before applying, Check my evidence, coaches' comments, Apply."""
