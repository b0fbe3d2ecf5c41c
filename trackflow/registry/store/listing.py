"""``trackflow models list`` through the DB-API read path (no SQLAlchemy on SQLite).

One snapshot, four statements: the registered models with their tags, aliases and latest
version (the same :class:`~trackflow.registry.entities.RegisteredModel` the registry
returns) and, per model, the version numbers in each stage.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from trackflow.registry.entities import RegisteredModel
from trackflow.tracking.entities import ms_to_datetime
from trackflow.tracking.store.read_path import ReadPath

__all__ = ["ModelListing", "read_model_listing"]


@dataclass(frozen=True)
class ModelListing:
    """A registered model and its version numbers by stage (each list ascending)."""

    model: RegisteredModel
    stages: dict[str, list[int]]


def read_model_listing(reader: ReadPath) -> list[ModelListing]:
    """Every registered model by name, with its versions by stage."""
    with reader.snapshot():
        models = reader.rows("SELECT name, description, created_at, updated_at FROM registered_models ORDER BY name")
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for name, key, value in reader.rows("SELECT model_name, key, value FROM registered_model_tags"):
            tags[name][key] = value
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        for name, alias, version in reader.rows("SELECT model_name, alias, version FROM model_aliases ORDER BY alias"):
            aliases[name][alias] = int(version)
        stages: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        latest: dict[str, int] = {}
        for name, version, stage in reader.rows(
            "SELECT model_name, version, stage FROM model_versions ORDER BY model_name, version"
        ):
            stages[name][stage].append(int(version))
            latest[name] = int(version)
    return [
        ModelListing(
            model=RegisteredModel(
                name=name,
                description=description,
                tags=dict(sorted(tags[name].items())),
                aliases=aliases[name],
                latest_version=latest.get(name),
                created_at=ms_to_datetime(created_at),  # type: ignore[arg-type]
                updated_at=ms_to_datetime(updated_at),  # type: ignore[arg-type]
            ),
            stages={stage: list(numbers) for stage, numbers in stages[name].items()},
        )
        for name, description, created_at, updated_at in models
    ]
