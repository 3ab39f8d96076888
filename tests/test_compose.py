"""docker-compose.yml parses, and everything it runs exists in this project.

No Docker here: the file is checked against the code it names (modules, scripts,
binaries from our dependencies, settings names) so it cannot silently rot.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import yaml

from durable_approvals.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def argv_exists(argv: list[str]) -> bool:
    program = argv[0]
    if program == "python":
        if argv[1] == "-m":
            return importlib.util.find_spec(argv[2]) is not None
        if argv[1] == "-c":
            return True
        return (ROOT / argv[1]).is_file()
    return (BIN_DIR / program).is_file() or shutil.which(program) is not None


def test_the_stack_has_temporal_platform_and_worker_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"temporal", "platform", "worker"}
    for name in ("temporal", "platform"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    depends = services["worker"]["depends_on"]
    assert all(depends[name]["condition"] == "service_healthy" for name in ("temporal", "platform"))
    assert "--db-filename=/data/temporal.db" in services["temporal"]["command"]
    assert services["temporal"]["volumes"] == ["temporal-data:/data"]


def test_every_command_it_runs_exists_in_the_project():
    for name, service in compose()["services"].items():
        commands = [service["command"]]
        if "healthcheck" in service:
            commands.append(service["healthcheck"]["test"][1:])
        for argv in commands:
            assert argv_exists(argv), f"{name}: {argv}"


def test_worker_environment_uses_the_settings_names():
    environment = compose()["services"]["worker"]["environment"]
    known = {name.upper() for name in Settings.model_fields}
    assert set(environment) <= known
    assert {"WORKSPACE_ID", "PLATFORM_URL", "TEMPORAL_ADDRESS", "AUDIT_LOG_PATH"} <= set(
        environment
    )
    assert environment["PLATFORM_URL"] == "http://platform:8080"


def test_the_image_copies_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    sources = [
        part
        for line in re.findall(r"^COPY (.+)$", dockerfile, flags=re.MULTILINE)
        for part in line.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source


def test_the_dev_server_registers_every_search_attribute_the_listener_needs():
    from durable_approvals import search_attributes

    command = compose()["services"]["temporal"]["command"]
    registered = {arg.split("=", 1)[1] for arg in command if arg.startswith("--search-attribute=")}
    assert registered == {f"{key.name}=Keyword" for key in search_attributes.KEYS}


def test_the_operations_doc_gives_the_operator_command_for_the_search_attributes():
    from durable_approvals import search_attributes

    readme = " ".join((ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split())
    command = search_attributes.operator_command("default")
    assert command.replace("\\", "") in readme.replace(" \\ ", " ")
