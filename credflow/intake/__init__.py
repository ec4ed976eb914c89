"""Step 1, intake: store a submission's evidence and record it once, however many times it is sent."""
