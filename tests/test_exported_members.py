"""The agent library's public API is ``approvals.__all__``: every name exists, is
importable, and importing it pulls in neither the worker's rooms nor an extra."""

from __future__ import annotations

import subprocess
import sys
import types

import approvals


def test_all_holds_every_public_name_once():
    public = [
        name
        for name, value in vars(approvals).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
    assert len(approvals.__all__) == len(set(approvals.__all__))
    assert set(approvals.__all__) == set(public)


def test_every_exported_name_is_importable():
    namespace: dict[str, object] = {}
    exec("from approvals import *", namespace)  # noqa: S102 - the import a user writes
    exported = {name for name in namespace if name != "__builtins__"}
    assert exported == set(approvals.__all__)
    for name in approvals.__all__:
        assert getattr(approvals, name) is namespace[name]


def test_the_library_imports_no_worker_room_and_no_extra():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, approvals; print(' '.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    roots = {name.split(".")[0] for name in loaded}
    forbidden = {"workflows", "activities", "devstack", "worker", "typer", "fastapi", "uvicorn"}
    assert roots & forbidden == set()
    assert "langchain_core" not in roots
