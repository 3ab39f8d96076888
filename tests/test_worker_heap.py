"""The worker keeps its startup objects out of the cycle collector's scans, and what
is allocated later is still collected (docs/performance.md, issue 21's third round)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from durable_approvals.worker import freeze_startup_heap


class Node:
    """An object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.peer: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    node = Node()
    node.peer = node
    return node, weakref.ref(node)


def scanned(target: object) -> bool:
    return any(candidate is target for candidate in gc.get_objects())


@pytest.fixture
def frozen() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("frozen")
def test_startup_objects_leave_the_scans_and_later_cycles_are_still_collected() -> None:
    alive_at_startup, _ = cycle()
    garbage_at_startup, garbage_ref = cycle()
    del garbage_at_startup
    assert scanned(alive_at_startup)

    kept = freeze_startup_heap()

    assert kept == gc.get_freeze_count() > 0
    assert garbage_ref() is None  # collected before the freeze, not kept for good
    assert not scanned(alive_at_startup)
    later, later_ref = cycle()
    assert scanned(later)
    del later
    gc.collect()
    assert later_ref() is None
