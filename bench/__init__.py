"""credflow's benchmarks: each stage timed against a baseline measured in the same run (``python -m bench``)."""
