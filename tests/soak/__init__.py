"""The chaos soak (issue 22, item 4): ``python -m tests.soak --minutes N --seed S``.

A mixed workload of approvals (every policy, every way of deciding, both platform
modes) against a real stack it starts itself, while a seeded fault scheduler kills,
pauses and restarts its parts; then the invariants are checked per approval and a
table printed. docs/testing.md, "Chaos soak", says what is checked and why.
"""
