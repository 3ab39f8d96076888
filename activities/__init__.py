"""Temporal activities, one module per outside world: RBAC config, platform HTTP,
platform WebSocket, audit file. Each is a method of a class that receives its
dependencies (settings, HTTP pool, audit log) in its constructor."""
