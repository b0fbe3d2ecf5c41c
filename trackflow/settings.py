"""Settings read from the environment (prefix ``TRACKFLOW_``).

A small frozen dataclass rather than pydantic-settings: importing pydantic costs ~0.1 s,
a fifth of the CLI's start-up budget, for a handful of values. Bad values raise
:class:`~trackflow.exceptions.InvalidInputError` naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from trackflow.exceptions import InvalidInputError

__all__ = ["TrackflowSettings", "get_settings", "ENV_PREFIX", "DEFAULT_FLOW_MODULES", "data_location_problem",
           "module_allowed", "is_inside"]

ENV_PREFIX = "TRACKFLOW_"
DEFAULT_FLOW_MODULES = ("trackflow.flows",)
"""Modules a spec's ``flow: module:attr`` may name without ``TRACKFLOW_ALLOWED_FLOW_MODULES``."""
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*$")


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
    store_retry_seconds: float = 60.0
    """How long tracked flows and tasks retry an unreachable tracking database before spooling (0: no retry)."""
    allowed_flow_modules: tuple[str, ...] = DEFAULT_FLOW_MODULES
    allowed_data_schemes: tuple[str, ...] = ()
    data_roots: tuple[Path, ...] = ()
    cache_dir: Path | None = None
    """Where trackflow keeps what it can rebuild (``TRACKFLOW_CACHE_DIR``; default
    ``$XDG_CACHE_HOME/trackflow`` or ``~/.cache/trackflow``): shared by every ``TRACKFLOW_HOME``,
    since what is cached depends only on the installed library versions."""
    artifact_storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """fsspec storage options of the artifact root (``TRACKFLOW_ARTIFACT_STORAGE_OPTIONS``, a JSON
    object: endpoint, credentials, addressing style...); not shown in ``repr`` (it may hold secrets)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrackflowSettings:
        """Read ``TRACKFLOW_*`` variables, filling the embedded defaults."""
        env = os.environ if environ is None else environ
        home = Path(env.get(f"{ENV_PREFIX}HOME") or Path.home() / ".trackflow").expanduser()
        return cls(
            home=home,
            tracking_uri=env.get(f"{ENV_PREFIX}TRACKING_URI") or f"sqlite:///{home / 'trackflow.db'}",
            artifact_root=env.get(f"{ENV_PREFIX}ARTIFACT_ROOT") or str(home / "artifacts"),
            artifact_storage_options=_json_object(env, "ARTIFACT_STORAGE_OPTIONS"),
            cache_dir=_cache_dir(env),
            metric_flush_size=_number(env, "METRIC_FLUSH_SIZE", int, 5000, minimum=1),
            metric_flush_interval=_number(env, "METRIC_FLUSH_INTERVAL", float, 2.0, minimum=1e-3),
            sqlite_busy_timeout=_number(env, "SQLITE_BUSY_TIMEOUT", float, 60.0, minimum=1e-3),
            store_retry_seconds=_number(env, "STORE_RETRY_SECONDS", float, 60.0, minimum=0.0),
            allowed_flow_modules=tuple(dict.fromkeys([*DEFAULT_FLOW_MODULES, *_modules(env, "ALLOWED_FLOW_MODULES")])),
            allowed_data_schemes=_schemes(env, "ALLOWED_DATA_SCHEMES"),
            data_roots=tuple(Path(p).expanduser() for p in (env.get(f"{ENV_PREFIX}DATA_ROOTS") or "").split(os.pathsep)
                             if p.strip()),
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for display)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _cache_dir(env: Mapping[str, str]) -> Path:
    """``TRACKFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/trackflow``, else ``~/.cache/trackflow``."""
    explicit = env.get(f"{ENV_PREFIX}CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "trackflow"


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


def _json_object(env: Mapping[str, str], name: str) -> dict[str, Any]:
    """A JSON object from ``TRACKFLOW_<name>`` ({} when unset or blank)."""
    import json

    raw = env.get(f"{ENV_PREFIX}{name}") or ""
    if not raw.strip():
        return {}
    hint = f'Set {ENV_PREFIX}{name} to a JSON object, e.g. {{"client_kwargs": {{"endpoint_url": "http://..."}}}}.'
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{ENV_PREFIX}{name} is not valid JSON: {exc}.", hint=hint) from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"{ENV_PREFIX}{name} must be a JSON object, got a {type(value).__name__}.",
                                hint=hint)
    return value


def _modules(env: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated list of module prefixes (``a.b,c``); a malformed entry is refused."""
    items = [m.strip().rstrip(".") for m in (env.get(f"{ENV_PREFIX}{name}") or "").split(",") if m.strip()]
    for item in items:
        if not _MODULE.match(item):
            raise InvalidInputError(f"{ENV_PREFIX}{name}: {item!r} is not a module name.",
                                    hint=f"Write {ENV_PREFIX}{name}=package.module,other_package.")
    return items


def _schemes(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of URL schemes (``https,s3``; ``s3://`` is accepted too)."""
    items = [s.strip().lower().removesuffix("://").removesuffix(":")
             for s in (env.get(f"{ENV_PREFIX}{name}") or "").split(",") if s.strip()]
    for item in items:
        if not _SCHEME.match(item) or item == "file":
            raise InvalidInputError(f"{ENV_PREFIX}{name}: {item!r} is not a URL scheme that can be allowed.",
                                    hint=f"Write {ENV_PREFIX}{name}=https,s3 (local files are always allowed "
                                    "inside the spec's folder; file:// is not a scheme to allow).")
    return tuple(dict.fromkeys(items))


def get_settings() -> TrackflowSettings:
    """Read the settings afresh from the environment."""
    return TrackflowSettings.from_env()


# ------------------------------------------------------- where specs may point (pure checks)


def module_allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    """True when ``module`` is one of ``prefixes`` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def is_inside(path: Path, roots: tuple[Path, ...]) -> bool:
    """True when ``path`` (symlinks followed) lies inside one of ``roots`` (symlinks followed)."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)


def data_location_problem(source: str, roots: tuple[Path, ...], schemes: tuple[str, ...], *, base: Path) -> str | None:
    """Why ``source`` may not be read, or None when it may.

    Allowed: ``sklearn:<name>``; a local path (or ``file://`` URI) inside one of ``roots``
    after following symlinks (a relative path is relative to ``base``); a URL whose scheme
    is in ``schemes``. Nothing is read or imported.
    """
    value = source.strip()
    if value.startswith("sklearn:"):
        return None
    scheme, sep, _ = value.partition("://")
    if sep and scheme.lower() != "file":
        if scheme.lower() in schemes:
            return None
        allowed = ", ".join(schemes) if schemes else "none"
        return (f"URL scheme {scheme.lower()!r} is not allowed (allowed schemes: {allowed}; set "
                f"{ENV_PREFIX}ALLOWED_DATA_SCHEMES in the environment that runs the flow to allow more)")
    path = Path(value[len("file://"):] if sep else value).expanduser()
    path = path if path.is_absolute() else base / path
    if is_inside(path, roots):
        return None
    where = " or ".join(repr(str(r)) for r in roots) or "no folder"
    return f"{str(path.resolve())!r} is outside {where} (symlinks are followed)"
