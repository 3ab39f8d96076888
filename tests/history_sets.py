"""Every replay set and the tests that record it (``RECORD_HISTORIES=<set>``): the one list
``tests/test_replay.py`` requires and ``scripts/record_histories.sh`` re-records.

``python -m tests.history_sets`` prints one line per set: its name, then its tests.
"""

from __future__ import annotations

HISTORY_SETS: dict[str, tuple[str, ...]] = {
    "baseline": (
        "tests/test_approval_flow.py",
        "tests/test_durable_timer.py",
        "tests/test_self_approval.py",
        "tests/test_decision_races.py",
    ),
    "channels": ("tests/test_channels_e2e.py",),
    "deadline": ("tests/test_deadline.py", "tests/test_expiry_retry.py"),
    "edits": ("tests/test_edits.py", "tests/test_edits_timer.py"),
    "escalation": ("tests/test_escalation.py", "tests/test_escalation_e2e.py"),
    "n-of-m": (
        "tests/test_n_of_m.py",
        "tests/test_bad_input.py::test_a_vote_policy_that_cannot_be_met_fails_at_once",
    ),
    "update": ("tests/test_decide_update.py",),
    "votes-hash": ("tests/test_votes_hash.py",),
    # Verified deciders (docs/trust-model.md): signed decisions and votes, forged ones refused.
    "proofs": ("tests/test_verified_deciders.py",),
    # Decisions reached through an agent's tool call (docs/agents.md): every run of the
    # adapters' deployment (tests/agents_support.py) is saved when its test ends.
    "agents": ("tests/test_agents_guarded.py", "tests/test_agents_mcp.py"),
}


if __name__ == "__main__":
    for name, tests in HISTORY_SETS.items():
        print(name, *tests)
