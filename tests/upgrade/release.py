"""The previous release kept for the upgrade test: one wheel in ``tests/upgrade/previous/``
and ``manifest.json`` beside it (version, git commit, sha256). ``scripts/release_wheel.sh``
writes both; ``python -m tests.upgrade.release write WHEEL COMMIT`` writes the manifest."""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

PREVIOUS_DIR = Path(__file__).resolve().parent / "previous"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Release:
    """What the manifest says about the committed wheel."""

    version: str
    commit: str
    wheel: str
    sha256: str

    @property
    def path(self) -> Path:
        return PREVIOUS_DIR / self.wheel


def sha256_of(path: Path) -> str:
    """The file's SHA-256, hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_version(wheel: Path) -> str:
    """The ``Version:`` of the wheel's own METADATA (not its file name)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        for line in archive.read(metadata).decode("utf-8").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    raise ValueError(f"{wheel.name}: no Version in its METADATA")


def write_manifest(wheel: Path, commit: str) -> Release:
    """Describe ``wheel`` (already in ``PREVIOUS_DIR``), built from ``commit``."""
    release = Release(wheel_version(wheel), commit, wheel.name, sha256_of(wheel))
    text = json.dumps(asdict(release), indent=2) + "\n"
    (PREVIOUS_DIR / MANIFEST).write_text(text, encoding="utf-8")
    return release


def previous_release() -> Release:
    """The committed release; ``ValueError`` when the wheel is missing, is not the one the
    manifest names, or its hash or version differ from the manifest's."""
    data = json.loads((PREVIOUS_DIR / MANIFEST).read_text(encoding="utf-8"))
    release = Release(**data)
    wheels = sorted(p.name for p in PREVIOUS_DIR.glob("*.whl"))
    if wheels != [release.wheel]:
        raise ValueError(f"{PREVIOUS_DIR} holds {wheels}, the manifest names {release.wheel}")
    if sha256_of(release.path) != release.sha256:
        raise ValueError(f"{release.wheel}: sha256 differs from the manifest's")
    if wheel_version(release.path) != release.version:
        raise ValueError(f"{release.wheel}: version differs from the manifest's")
    return release


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "write":
        sys.exit("usage: python -m tests.upgrade.release write WHEEL COMMIT")
    print(json.dumps(asdict(write_manifest(Path(sys.argv[2]), sys.argv[3]))))
