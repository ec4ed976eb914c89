"""Step 4, reviewer assignment: who may review what (rules), the min-cost-flow solver, the round (stage)."""
