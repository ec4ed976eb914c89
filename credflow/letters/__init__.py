"""Step 7, feedback letters: the result email criterion by criterion, sent once."""
