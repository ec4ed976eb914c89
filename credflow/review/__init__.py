"""Step 5, review: reviewers open, score, draft, submit or decline; deadlines and the waiting table."""
