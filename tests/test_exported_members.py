"""The agent library's public API is ``durable_approvals.__all__``: every name exists, is
importable, and importing it pulls in neither the worker's rooms nor an extra."""

from __future__ import annotations

import subprocess
import sys
import types

import durable_approvals as approvals


def test_all_holds_every_public_name_once():
    public = [name for name in approvals._HOMES if not name.startswith("_")]
    assert len(approvals.__all__) == len(set(approvals.__all__))
    assert set(approvals.__all__) == set(public)
    for name in approvals.__all__:
        assert not isinstance(getattr(approvals, name), types.ModuleType)


def test_every_exported_name_is_importable():
    namespace: dict[str, object] = {}
    exec("from durable_approvals import *", namespace)  # noqa: S102 - the import a user writes
    exported = {name for name in namespace if name != "__builtins__"}
    assert exported == set(approvals.__all__)
    for name in approvals.__all__:
        assert getattr(approvals, name) is namespace[name]


def test_the_library_imports_no_worker_room_and_no_extra():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, durable_approvals; print(' '.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    roots = {name.split(".")[0] for name in loaded}
    rooms = {name.split(".")[1] for name in loaded if name.startswith("durable_approvals.")}
    assert rooms & {"workflows", "activities", "devstack", "worker"} == set()
    assert roots & {"typer", "fastapi", "uvicorn"} == set()
    assert "langchain_core" not in roots
