"""Tests of plans: the applicant's enrolments in words, target dates and their reminders."""
