"""What a run was made from: code version, entry point, user, host and package versions.

Read once per process and cached: a run costs nothing extra to describe itself.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

__all__ = ["SourceInfo", "KEY_PACKAGES", "current_source", "package_versions"]

KEY_PACKAGES = ("trackflow", "prefect", "scikit-learn", "pandas", "numpy", "sqlalchemy", "skops")


@dataclass(frozen=True)
class SourceInfo:
    """The code and environment a run came from."""

    commit: str | None
    dirty: bool | None
    entrypoint: str | None
    user: str | None
    host: str | None
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing packages are left out)."""
    return _package_versions(names)


@lru_cache(maxsize=4)
def _package_versions(names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def _entry_file() -> Path | None:
    main = sys.modules.get("__main__")
    candidate = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else None)
    if not candidate or candidate in {"-c", "-m"}:
        return None
    path = Path(candidate).resolve()
    if not path.exists():
        return None
    # a console script or a tool (``trackflow``, ``pytest``) is not the user's code
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    if any(prefix in path.parents for prefix in prefixes):
        return None
    return path


@lru_cache(maxsize=1)
def current_source() -> SourceInfo:
    """Describe the running process (cached; one ``git`` call per process)."""
    entry = _entry_file()
    where = entry.parent if entry else Path.cwd()
    root = _git(["rev-parse", "--show-toplevel"], where)
    commit = dirty = None
    entrypoint: str | None = str(entry) if entry else None
    if root:
        commit = _git(["rev-parse", "HEAD"], where)
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = bool(status) if status is not None else None
        if entry:
            try:
                entrypoint = entry.relative_to(Path(root).resolve()).as_posix()
            except ValueError:
                pass
    try:
        user: str | None = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = os.environ.get("USER")
    return SourceInfo(
        commit=commit,
        dirty=dirty,
        entrypoint=entrypoint,
        user=user,
        host=socket.gethostname(),
        python_version=platform.python_version(),
        packages=package_versions(),
    )
