"""The trained reviewer pool: import and export, calibration and inter-rater agreement."""
