"""durable-approvals: human approval for AI agents that survives crashes and restarts."""
