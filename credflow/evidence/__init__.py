"""Content inspection of uploaded evidence files: what a file really is and what is wrong with it."""
