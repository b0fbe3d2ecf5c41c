"""The registry client's read methods over the DB-API read path.

``trackflow models show|versions|history`` only read; on a database the read path can
answer (:func:`trackflow.tracking.store.read_path.open_read_path`), :class:`RegistryReadView`
answers them without importing SQLAlchemy or the store, with the registry client's own
validation, entities, order and errors (``tests/cli/test_read_path.py`` compares both).
"""

from __future__ import annotations

from trackflow.registry.entities import ModelDeployment, ModelVersion, RegisteredModel, StageTransition
from trackflow.registry.stages import Stage, parse_stage
from trackflow.registry.store import listing
from trackflow.registry.uris import unknown_model_error
from trackflow.registry.validation import validate_model_name, validate_version
from trackflow.tracking.store.read_path import ReadPath

__all__ = ["RegistryReadView"]


class RegistryReadView:
    """``get_model``, ``list_versions``, ``history`` and ``deployments`` as
    :class:`~trackflow.registry.client.RegistryClient` answers them, read through ``reader``."""

    def __init__(self, reader: ReadPath) -> None:
        self._reader = reader

    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version."""
        name = validate_model_name(name)
        found = listing.read_registered_models(self._reader, [name])
        if not found:
            raise self._unknown(name)
        return found[0]

    def list_versions(self, name: str, *, stage: str | Stage | None = None) -> list[ModelVersion]:
        """The versions of a model by number (only those in ``stage`` when given)."""
        name = validate_model_name(name)
        stages = [parse_stage(stage).value] if stage is not None else None
        self.get_model(name)
        return listing.read_model_versions(self._reader, name, stages=stages)

    def history(self, name: str, *, version: int | str | None = None) -> list[StageTransition]:
        """Every stage transition of a model (or one version), oldest first."""
        name = validate_model_name(name)
        number = validate_version(version) if version is not None else None
        self.get_model(name)
        return listing.read_stage_transitions(self._reader, name, version=number)

    def deployments(self, name: str) -> list[ModelDeployment]:
        """Where a model's versions are (or were) served, newest first."""
        return listing.read_model_deployments(self._reader, validate_model_name(name))

    def _unknown(self, name: str) -> Exception:
        return unknown_model_error(name, [model.name for model in listing.read_registered_models(self._reader)])
