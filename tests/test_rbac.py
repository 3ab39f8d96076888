"""The RBAC table of the platform contract, checked role by role."""

import pytest

from durable_approvals.activities.rbac_policy import RbacPolicy, load_policy, policy_from_config


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (["admin"], True),
        (["operator"], True),
        (["no-delegation"], True),
        (["read-only"], False),
        (["no-approval"], False),
        (["memory-readonly"], False),
        (["unknown-role"], False),
        ([], False),
        (["read-only", "operator"], True),
    ],
)
def test_builtin_roles_decide_approve(roles, allowed):
    assert RbacPolicy(roles=tuple(roles)).permits("approve") is allowed


def test_custom_actions_replace_the_builtin_set():
    policy = policy_from_config(
        {"rbac": {"roles": ["operator"], "allowed_actions": {"operator": ["memory.read"]}}}
    )
    assert not policy.permits("approve")
    assert policy.permits("memory.read")


def test_custom_actions_can_grant_an_unknown_role():
    policy = policy_from_config(
        {"rbac": {"roles": ["bot"], "allowed_actions": {"bot": ["approve"]}}}
    )
    assert policy.permits("approve")


def test_admin_grants_everything_even_when_listed_with_a_custom_set():
    policy = policy_from_config({"rbac": {"roles": ["admin"], "allowed_actions": {"admin": []}}})
    assert policy.permits("approve")


def test_missing_or_broken_config_means_operator(tmp_path):
    assert load_policy(tmp_path / "absent.yaml").roles == ("operator",)
    broken = tmp_path / "broken.yaml"
    broken.write_text("rbac: [unclosed", encoding="utf-8")
    assert load_policy(broken).roles == ("operator",)
    no_rbac = tmp_path / "plain.yaml"
    no_rbac.write_text("name: agent\n", encoding="utf-8")
    assert load_policy(no_rbac).permits("approve")


def test_explicit_empty_role_list_grants_nothing(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("rbac:\n  roles: []\n", encoding="utf-8")
    assert not load_policy(config).permits("approve")
