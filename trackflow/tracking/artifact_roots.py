"""Where an artifact root can be reached from: its fsspec storage options, and process-local roots.

Storage options
    A URL root (``s3://bucket/prefix``) is opened with fsspec's storage options:
    ``storage_options=`` when a caller gives them, else ``TRACKFLOW_ARTIFACT_STORAGE_OPTIONS``
    (a JSON object, e.g. ``{"client_kwargs": {"endpoint_url": "http://minio:9000"},
    "profile": "ml"}``), so every reader and writer of the root (runs, the registry's
    packages, ``load_model`` in another process) reaches it the same way.

Process-local roots
    A ``memory://`` root exists only in the process that writes it. It is fine for a run
    whose every task executes in that process (tests, notebooks); it is refused
    (:func:`require_shared_root`, InvalidInputError, nothing written) where a run executes
    in another process, and registering a model version there warns once per root (the
    version is READY, but no other process can load it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trackflow.exceptions import InvalidInputError

__all__ = ["PROCESS_LOCAL_SCHEMES", "process_local_root", "require_shared_root", "storage_options_for"]

PROCESS_LOCAL_SCHEMES = ("memory",)
"""fsspec protocols whose files exist only in the process that wrote them."""

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def process_local_root(root: str) -> bool:
    """True when the artifact root ``root`` exists only in this process (``memory://``)."""
    match = _URL.match(root.strip()) if isinstance(root, str) else None
    return match is not None and match.group(1).lower() in PROCESS_LOCAL_SCHEMES


def require_shared_root(root: str, *, where: str) -> None:
    """Refuse a process-local artifact root for a run that executes ``where`` (another process).

    Raises InvalidInputError naming the root; nothing is written. ``where`` completes
    "it cannot be used ...", e.g. ``"by a deployment run on a worker"``.
    """
    if process_local_root(root):
        raise InvalidInputError(
            f"The artifact root {root!r} exists only in the process that writes it; it cannot be used {where}: "
            "what a run stores there would be invisible to every other process (and lost when it exits).",
            hint="Set TRACKFLOW_ARTIFACT_ROOT to a folder every process can reach, or an object store "
            "(s3://bucket/prefix, with TRACKFLOW_ARTIFACT_STORAGE_OPTIONS for its endpoint and credentials).",
        )


def storage_options_for(given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fsspec storage options to open a URL root with: ``given``, else the setting's."""
    if given is not None:
        if not isinstance(given, Mapping):
            raise InvalidInputError(f"storage_options must be a mapping, got {type(given).__name__}")
        return dict(given)
    from trackflow.settings import get_settings

    return dict(get_settings().artifact_storage_options)
