"""Step 2, evidence validation (the pre-assessor): requirements met, content sniffed, names made safe."""
