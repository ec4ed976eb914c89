"""Step 6, verdict aggregation: the conjunctive rule, adjudication of split criteria, back-reads."""
