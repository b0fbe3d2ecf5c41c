"""Deployment records of the registry: which version is served where, since when."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.registry.entities import ModelDeployment, ModelVersion, VersionStatus
from trackflow.registry.validation import validate_model_name, validate_version
from trackflow.tracking.entities import now_ms
from trackflow.tracking.hooks import current_flow_run_id

if TYPE_CHECKING:
    from trackflow.registry.store.base import RegistryStore

__all__ = ["DeploymentsMixin", "ACTIVE", "REPLACED", "STOPPED"]

ACTIVE = "active"
REPLACED = "replaced"
STOPPED = "stopped"


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInputError(
            f"A deployment's {what} must be a non-empty string of at most {limit} characters, got {value!r}."
        )
    return value.strip()


class DeploymentsMixin:
    """``record_deployment`` / ``end_deployment`` / ``deployments`` of the RegistryClient."""

    _store: RegistryStore

    def get_version(self, name: str, version: int | str) -> ModelVersion:  # provided by RegistryClient
        raise NotImplementedError

    def record_deployment(
        self,
        name: str,
        version: int | str,
        *,
        target: str,
        deployment_name: str | None = None,
        details: Mapping[str, Any] | None = None,
        flow_run_id: str | None = None,
    ) -> ModelDeployment:
        """Record that version ``version`` of ``name`` is served at ``target`` from now on.

        The active record with the same ``deployment_name`` (default ``"<name> at <target>"``)
        ends as ``replaced``; a lineage edge ``model:<name>/<v> --deployed_as--> deployment:<id>``
        is written with it. Only READY versions can be deployed.
        """
        target = _text(target, "target", 4000)
        found = self.get_version(name, version)  # NotFoundError lists what exists
        label = _text(deployment_name if deployment_name is not None else f"{found.name} at {target}", "name", 256)
        try:
            details_json = json.dumps(dict(details or {}), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"Deployment details must be JSON-serializable: {exc}") from None
        if found.status is not VersionStatus.READY:
            raise InvalidInputError(
                f"Version {found.version} of {found.name!r} is {found.status.value}; only READY versions can be deployed."
            )
        deployment_id, now = uuid.uuid4().hex, now_ms()
        values = {
            "id": deployment_id, "name": label, "model_name": found.name, "version": found.version,
            "target": target, "since": now, "flow_run_id": flow_run_id or current_flow_run_id(),
            "details_json": details_json,
        }  # fmt: skip
        with self._store.transaction() as tx:
            tx.create_deployment(values, replaced_status=REPLACED)
            tx.create_edges(
                [{"source": found.ref, "target": f"deployment:{deployment_id}", "relation": "deployed_as",
                  "run_id": None, "name": label, "created_at": now}]
            )  # fmt: skip
            record = tx.read_deployment(deployment_id)
        return record  # type: ignore[return-value]  # exists: same transaction

    def end_deployment(self, deployment_id: str, *, status: str = STOPPED) -> ModelDeployment | None:
        """End an active deployment record (``stopped`` or ``replaced``); None if it was not active."""
        if status not in (REPLACED, STOPPED):
            raise InvalidInputError(f"A deployment ends as 'replaced' or 'stopped', not {status!r}.")
        with self._store.transaction() as tx:
            ended = tx.end_deployment(deployment_id, status=status, until=now_ms())
            if ended is None:
                raise NotFoundError(f"No deployment record {deployment_id}.")
            return tx.read_deployment(deployment_id) if ended else None

    def deployments(self, name: str, *, version: int | str | None = None) -> list[ModelDeployment]:
        """Where a model's versions are (or were) served, newest first."""
        name = validate_model_name(name)
        number = validate_version(version) if version is not None else None
        with self._store.transaction(write=False) as tx:
            return tx.read_model_deployments(name, version=number)
