"""Temporal activities, one module per outside world (RBAC config, platform, audit file),
each a method of a class that gets its dependencies in its constructor."""
