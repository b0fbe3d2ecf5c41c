"""Which model version is served where, and since when (the ``deployments`` table).

``record_deployment`` is the one call the serving side makes: when ``trackflow serve``
starts or swaps to a new version, and when the ``deploy_model`` task runs. A record is
keyed by its deployment *name* (default ``<model> at <target>``): recording a new version
under a name ends the active record of that name (status ``replaced``, ``until`` set), so
``trackflow models show`` lists what is served now and what was served before.

The registry owns the table. This module delegates to ``RegistryClient.record_deployment``
/ ``end_deployment`` when the registry offers them; until then it writes the row itself
through the Client's store transaction (SQLAlchemy Core on the registry's own session, no
ORM import), with the same validation first so bad input writes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from trackflow.registry.entities import ModelDeployment
    from trackflow.tracking.client import Client

__all__ = ["ACTIVE", "REPLACED", "STOPPED", "record_deployment", "end_deployment", "active_deployments"]

ACTIVE = "active"
REPLACED = "replaced"
STOPPED = "stopped"
_STATUSES = (ACTIVE, REPLACED, STOPPED)


def _table() -> Any:
    import sqlalchemy as sa

    return sa.table(
        "deployments",
        sa.column("id"), sa.column("name"), sa.column("model_name"), sa.column("version"), sa.column("target"),
        sa.column("status"), sa.column("since"), sa.column("until"), sa.column("flow_run_id"),
        sa.column("details_json"),
    )  # fmt: skip


def _check_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInputError(f"A deployment's {what} must be a non-empty string of at most {limit} characters, "
                                f"got {value!r}.")
    return value.strip()


def record_deployment(
    client: Client,
    *,
    model_name: str,
    version: int,
    target: str,
    name: str | None = None,
    details: Mapping[str, Any] | None = None,
    flow_run_id: str | None = None,
) -> ModelDeployment:
    """Record that ``model_name`` version ``version`` is served at ``target`` from now on.

    The active record with the same ``name`` (default ``"<model_name> at <target>"``) is
    ended as ``replaced``. A lineage edge ``model:<name>/<version> --deployed_as-->
    deployment:<id>`` is written with it.
    """
    from trackflow.registry.entities import VersionStatus
    from trackflow.registry.stages import current_flow_run_id
    from trackflow.tracking.entities import now_ms

    target = _check_text(target, "target", 4000)
    label = _check_text(name if name is not None else f"{model_name} at {target}", "name", 256)
    extra = dict(details or {})
    try:
        details_json = json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Deployment details must be JSON-serializable: {exc}") from None
    registry = client.registry
    found = registry.get_version(model_name, version)  # NotFoundError lists what exists
    if found.status is not VersionStatus.READY:
        raise InvalidInputError(f"Version {found.version} of {found.name!r} is {found.status.value}; only READY "
                                "versions can be deployed.")
    flow_run = flow_run_id or current_flow_run_id()
    delegate = getattr(registry, "record_deployment", None)
    if callable(delegate):
        return delegate(found.name, found.version, target=target, deployment_name=label, details=extra,
                        flow_run_id=flow_run)  # type: ignore[no-any-return]
    import sqlalchemy as sa

    table, now, deployment_id = _table(), now_ms(), uuid.uuid4().hex
    with client._store.transaction() as tx:  # noqa: SLF001 - until the registry offers record_deployment
        tx.session.execute(
            sa.update(table)
            .where(table.c.name == label, table.c.status == ACTIVE)
            .values(status=REPLACED, until=now)
        )
        tx.session.execute(
            sa.insert(table).values(
                id=deployment_id, name=label, model_name=found.name, version=found.version, target=target,
                status=ACTIVE, since=now, until=None, flow_run_id=flow_run, details_json=details_json,
            )
        )  # fmt: skip
        tx.create_edges([
            {"source": found.ref, "target": f"deployment:{deployment_id}", "relation": "deployed_as",
             "run_id": None, "name": label, "created_at": now}
        ])  # fmt: skip
    return _read(client, found.name, deployment_id)


def end_deployment(client: Client, deployment_id: str, *, status: str = STOPPED) -> ModelDeployment | None:
    """End an active deployment record (``stopped`` by default); None if it was not active."""
    from trackflow.tracking.entities import now_ms

    if status not in (REPLACED, STOPPED):
        raise InvalidInputError(f"A deployment ends as 'replaced' or 'stopped', not {status!r}.")
    delegate = getattr(client.registry, "end_deployment", None)
    if callable(delegate):
        return delegate(deployment_id, status=status)  # type: ignore[no-any-return]
    import sqlalchemy as sa

    table = _table()
    with client._store.transaction() as tx:  # noqa: SLF001 - until the registry offers end_deployment
        row = tx.session.execute(sa.select(table.c.model_name).where(table.c.id == deployment_id)).first()
        if row is None:
            raise NotFoundError(f"No deployment record {deployment_id}.")
        changed = tx.session.execute(
            sa.update(table).where(table.c.id == deployment_id, table.c.status == ACTIVE).values(status=status,
                                                                                                 until=now_ms())
        ).rowcount
    return _read(client, row[0], deployment_id) if changed else None


def active_deployments(client: Client, model_name: str) -> list[ModelDeployment]:
    """The model's deployments that are active now, newest first."""
    return [d for d in client.registry.deployments(model_name) if d.status == ACTIVE]


def _read(client: Client, model_name: str, deployment_id: str) -> ModelDeployment:
    for record in client.registry.deployments(model_name):
        if record.id == deployment_id:
            return record  # type: ignore[no-any-return]
    raise NotFoundError(f"Deployment record {deployment_id} was not found after it was written.")
