"""The applicant's side of a micro-credential: where each enrolment stands, and their backwards plan with reminders."""
