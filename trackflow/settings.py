"""Settings read from the environment (prefix ``TRACKFLOW_``).

A small frozen dataclass rather than pydantic-settings: importing pydantic costs ~0.1 s,
a fifth of the CLI's start-up budget, for six values. Bad values raise
:class:`~trackflow.exceptions.InvalidInputError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from trackflow.exceptions import InvalidInputError

__all__ = ["TrackflowSettings", "get_settings", "ENV_PREFIX"]

ENV_PREFIX = "TRACKFLOW_"


@dataclass(frozen=True)
class TrackflowSettings:
    """Where trackflow keeps its data, and how it batches writes.

    ``TRACKFLOW_HOME`` holds the embedded defaults: a SQLite database and a local artifact
    folder. ``TRACKFLOW_TRACKING_URI`` takes any SQLAlchemy URL
    (``postgresql+psycopg://...`` for teams) and ``TRACKFLOW_ARTIFACT_ROOT`` any fsspec URL.
    """

    home: Path
    tracking_uri: str
    artifact_root: str
    metric_flush_size: int = 5000
    metric_flush_interval: float = 2.0
    sqlite_busy_timeout: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrackflowSettings:
        """Read ``TRACKFLOW_*`` variables, filling the embedded defaults."""
        env = os.environ if environ is None else environ
        home = Path(env.get(f"{ENV_PREFIX}HOME") or Path.home() / ".trackflow").expanduser()
        return cls(
            home=home,
            tracking_uri=env.get(f"{ENV_PREFIX}TRACKING_URI") or f"sqlite:///{home / 'trackflow.db'}",
            artifact_root=env.get(f"{ENV_PREFIX}ARTIFACT_ROOT") or str(home / "artifacts"),
            metric_flush_size=_number(env, "METRIC_FLUSH_SIZE", int, 5000, minimum=1),
            metric_flush_interval=_number(env, "METRIC_FLUSH_INTERVAL", float, 2.0, minimum=1e-3),
            sqlite_busy_timeout=_number(env, "SQLITE_BUSY_TIMEOUT", float, 60.0, minimum=1e-3),
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for display)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(env: Mapping[str, str], name: str, kind: Callable[[str], Any], default: Any, *, minimum: float) -> Any:
    raw = env.get(f"{ENV_PREFIX}{name}")
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise InvalidInputError(
            f"{ENV_PREFIX}{name}={raw!r} is not valid: expected a {kind.__name__} >= {minimum}.",
            hint=f"Fix or unset {ENV_PREFIX}{name}.",
        )
    return value


def get_settings() -> TrackflowSettings:
    """Read the settings afresh from the environment."""
    return TrackflowSettings.from_env()
