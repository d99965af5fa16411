"""Cases: the closed loop from report to closed case (workflow, SLA, audit log)."""
