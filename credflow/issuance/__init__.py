"""Step 8, badge issuance: Open Badges credentials, pathway badges and in-service hours."""
