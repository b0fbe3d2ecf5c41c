"""Which registered model versions came from which runs (for the run table and the run page)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trackflow.tracking.client import Client

__all__ = ["versions_by_run", "version_json"]


def version_json(version: Any) -> dict[str, Any]:
    """A model version as the ui shows it: name, version, stage, aliases and its page."""
    return {
        "name": version.name,
        "version": version.version,
        "stage": str(getattr(version.stage, "value", version.stage)),
        "aliases": list(version.aliases),
        "url": f"/models/{version.name}/versions/{version.version}",
    }


def versions_by_run(client: Client, run_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """run id -> the versions registered from it (as :func:`version_json`), for the given runs.

    One read per registered model (the registry is small next to the run table), not per run.
    """
    wanted = set(run_ids)
    found: dict[str, list[dict[str, Any]]] = {}
    if not wanted:
        return found
    registry = client.registry
    for model in registry.list_models():
        for version in registry.list_versions(model.name):
            if version.run_id in wanted:
                found.setdefault(version.run_id, []).append(version_json(version))
    return found
