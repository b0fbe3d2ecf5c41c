"""RegistryClient: registered models, versions, stages, aliases and their audit trail.

Reached as ``Client().registry`` (the factory in :mod:`trackflow.registry` builds it with
the Client and the Client's store). It shares the Client's store and artifact store and owns
its transactions: version numbers are taken with the model row locked (``SELECT ... FOR
UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent registrations get
unique, gapless numbers and concurrent promotions leave one production version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import AlreadyExistsError, ConflictError, InvalidInputError
from trackflow.registry.client_deployments import DeploymentsMixin
from trackflow.registry.entities import (
    ModelVersion,
    RegisteredModel,
    StageTransition,
    VersionStatus,
)
from trackflow.registry.stages import (
    Stage,
    check_transition,
    current_user,
    parse_stage,
)
from trackflow.registry.uris import (
    no_model_error,
    not_found_error,
    parse_model_uri,
    parse_source,
    resolve_version,
    run_source,
)
from trackflow.registry.validation import (
    clean_tag_keys,
    clean_tags,
    validate_alias,
    validate_description,
    validate_details,
    validate_model_name,
    validate_reason,
    validate_version,
    validate_version_options,
)
from trackflow.registry.why import WhyMixin
from trackflow.tracking import hooks
from trackflow.tracking.entities import now_ms
from trackflow.tracking.hooks import current_flow_run_id
from trackflow.tracking.lineage import model_ref
from trackflow.tracking.validation import validate_run_id

if TYPE_CHECKING:
    from trackflow.registry.model_format import PackagedModel
    from trackflow.registry.store.base import RegistryStore
    from trackflow.tracking.client import Client
    from trackflow.tracking.store.base import TrackingStore

__all__ = ["RegistryClient"]


class RegistryClient(DeploymentsMixin, WhyMixin):
    """Read and write the model registry on the database of ``client`` (through its ``store``)."""

    def __init__(self, client: Client, store: TrackingStore) -> None:
        from trackflow.registry.store.sql_registry import registry_store

        self._client = client
        self._store: RegistryStore = registry_store(store)  # the same database, registry transactions
        # No skops warm-up here: reading the registry (``trackflow models list``) imports neither
        # skops nor pandas. Importing the register task starts it (trackflow.tasks.register).

    # ---- registered models ----------------------------------------------------------

    def create_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """Create an empty registered model; AlreadyExistsError if the name is taken."""
        name = validate_model_name(name)
        text = validate_description(description) if description is not None else None
        clean = clean_tags(tags)
        with self._store.transaction() as tx:
            if not tx.ensure_registered_model(name, description=text, now=now_ms()):
                raise AlreadyExistsError(f"A model named {name!r} exists already.", hint="Use get_model or update_model.")
            tx.set_registered_model_tags(name, clean)
            return tx.read_registered_model(name)  # type: ignore[return-value]  # exists: same transaction

    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version."""
        name = validate_model_name(name)
        with self._store.transaction(write=False) as tx:
            model = tx.read_registered_model(name)
            if model is None:
                raise no_model_error(tx, name)
            return model

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        with self._store.transaction(write=False) as tx:
            return tx.read_registered_models()

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        remove_tags: Sequence[str] = (),
    ) -> RegisteredModel:
        """Change a model's description (``""`` clears it; None keeps it), set and remove tags."""
        name = validate_model_name(name)
        values: dict[str, Any] = {"updated_at": now_ms()}
        if description is not None:
            values["description"] = validate_description(description)
        clean, removed = clean_tags(tags), clean_tag_keys(remove_tags)
        with self._store.transaction() as tx:
            if not tx.update_registered_model(name, values):
                raise no_model_error(tx, name)
            tx.set_registered_model_tags(name, clean)
            tx.delete_registered_model_tags(name, removed)
            return tx.read_registered_model(name)  # type: ignore[return-value]  # exists: same transaction

    # ---- versions -------------------------------------------------------------------

    def register_model(
        self,
        model: Any,
        name: str,
        *,
        run_id: str | None = None,
        input_example: Any = None,
        artifact_path: str | None = None,
        serialization: str = "skops",
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Save ``model`` as artifact ``artifact_path`` of the run and register it as the next version.

        Without ``artifact_path`` the package goes to ``model``, or ``model-2``, ``model-3``
        ... when the run has that already (several models per run); an explicit path that is
        taken raises AlreadyExistsError. Without ``input_example`` the signature comes from
        the estimator's ``feature_names_in_`` / ``n_features_in_`` with the dtypes of the
        run's input dataset that holds those columns (when trackflow recorded one).
        The run is ``run_id``, else the active run; outside any run a run is created (and
        finished) for the registration. The package is stored first; the version is then
        created READY in ``development`` in one transaction, so a failed package write
        registers nothing.
        """
        from trackflow.registry.loading import free_package_path, log_package, training_schema, verify_package_files
        from trackflow.tracking.artifacts import validate_artifact_path
        from trackflow.tracking.context import active_run_id

        name = validate_model_name(name)
        path = validate_artifact_path(artifact_path) if artifact_path is not None else None
        options = validate_version_options(description=description, tags=tags, reason=reason, details=details)
        rid = validate_run_id(run_id) if run_id is not None else active_run_id()
        own_run = None
        if rid is None:
            own_run = self._client.create_run(run_name=f"register-{name}")
            rid = own_run.id
        try:
            self._client.get_run(rid)
            path = path if path is not None else free_package_path(self._client, rid)
            schema = training_schema(self._client, rid, model) if input_example is None else None
            log_package(self._client, model, rid, path, input_example=input_example, serialization=serialization,
                        schema=schema)
            manifest, files = verify_package_files(self._client, rid, path)  # what is stored, as recorded
            version = self._create(name, rid, path, manifest.payload_sha256, files, **options)
        except BaseException:
            if own_run is not None:
                self._client.end_run(own_run.id, "FAILED", error="model registration failed")
            raise
        if own_run is not None:
            self._client.end_run(own_run.id, "FINISHED")
        return version

    def create_version(
        self,
        name: str,
        *,
        source: str,
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a package a run already logged (``source="runs:/<run_id>/<path>"``).

        The source must lie inside the run's artifact folder; the package's payload is
        checked against its manifest and the logged sha256 before anything is written.
        """
        name = validate_model_name(name)
        src_run, path = parse_source(source, self._client.artifacts)
        if run_id is not None and validate_run_id(run_id) != src_run:
            raise InvalidInputError(
                f"Version source {source!r} belongs to run {src_run}, not to run {run_id}.",
                hint="A version's package must be an artifact of its own run.",
            )
        options = validate_version_options(description=description, tags=tags, reason=reason, details=details)
        self._client.get_run(src_run)
        from trackflow.registry.loading import verify_package_files

        manifest, files = verify_package_files(self._client, src_run, path)
        return self._create(name, src_run, path, manifest.payload_sha256, files, **options)

    def _create(
        self, name: str, run_id: str, path: str, sha256: str, files: Mapping[str, str], *,
        description: str | None, tags: dict[str, str],
        reason: str | None, details: dict[str, Any] | None,
    ) -> ModelVersion:
        now, flow_run_id = now_ms(), current_flow_run_id()
        with self._store.transaction() as tx:
            tx.ensure_registered_model(name, description=None, now=now)
            tx.lock_registered_model(name)
            number = tx.next_model_version(name)
            tx.create_model_version(
                {"model_name": name, "version": number, "run_id": run_id, "source": run_source(run_id, path),
                 "payload_sha256": sha256, "package_files": dict(files), "status": VersionStatus.READY.value, "stage": Stage.DEVELOPMENT.value,
                 "description": description, "created_at": now, "updated_at": now}
            )
            tx.set_model_version_tags(name, number, tags)
            tx.create_stage_transition(
                {"model_name": name, "version": number, "from_stage": None, "to_stage": Stage.DEVELOPMENT.value,
                 "user": current_user(), "reason": reason or "registered", "flow_run_id": flow_run_id,
                 "details": {"source": run_source(run_id, path), **(details or {})}, "created_at": now}
            )
            tx.update_registered_model(name, {"updated_at": now})
            tx.create_edges(  # the version is the package's model node, registered
                [{"source": model_ref(run_id, path), "target": f"model:{name}/{number}", "relation": "registered_as",
                  "run_id": run_id, "name": name, "created_at": now}]
            )
            version: ModelVersion = tx.read_model_version(name, number)  # type: ignore[assignment]  # exists: same transaction
        self._emit("trackflow.model.registered", version, {"source": version.source, "stage": version.stage.value})
        from trackflow.registry.loading import warn_if_process_local

        warn_if_process_local(self._client, version)
        return version

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a model; NotFoundError lists the versions that exist."""
        name, number = validate_model_name(name), validate_version(version)
        with self._store.transaction(write=False) as tx:
            found = tx.read_model_version(name, number)
            if found is None:
                raise not_found_error(tx, name, f"Model {name!r} has no version {number}.")
            return found

    def list_versions(self, name: str, *, stage: str | Stage | None = None) -> list[ModelVersion]:
        """The versions of a model by number (only those in ``stage`` when given)."""
        name = validate_model_name(name)
        stages = [parse_stage(stage).value] if stage is not None else None
        with self._store.transaction(write=False) as tx:
            if tx.read_registered_model(name) is None:
                raise no_model_error(tx, name)
            return tx.read_model_versions(name, stages=stages)

    def update_version(
        self,
        name: str,
        version: int | str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        remove_tags: Sequence[str] = (),
    ) -> ModelVersion:
        """Change a version's description (``""`` clears it; None keeps it), set and remove tags."""
        name, number = validate_model_name(name), validate_version(version)
        values: dict[str, Any] = {"updated_at": now_ms()}
        if description is not None:
            values["description"] = validate_description(description)
        clean, removed = clean_tags(tags), clean_tag_keys(remove_tags)
        with self._store.transaction() as tx:
            if not tx.update_model_version(name, number, values):
                raise not_found_error(tx, name, f"Model {name!r} has no version {number}.")
            tx.set_model_version_tags(name, number, clean)
            tx.delete_model_version_tags(name, number, removed)
            return tx.read_model_version(name, number)  # type: ignore[return-value]  # exists: same transaction

    # ---- stages ---------------------------------------------------------------------

    def transition(
        self,
        name: str,
        version: int | str,
        stage: str | Stage,
        *,
        reason: str | None = None,
        archive_existing: bool = True,
        details: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Move a version to ``stage`` and record who, when, why (and the flow run).

        Moving to production archives the current production version; with
        ``archive_existing=False`` that is refused instead (ConflictError), so a model
        never has two production versions.
        """
        name, number, target = validate_model_name(name), validate_version(version), parse_stage(stage)
        why, extra = validate_reason(reason), validate_details(details) or {}
        now, user, flow_run_id = now_ms(), current_user(), current_flow_run_id()
        moved: list[tuple[ModelVersion, Stage]] = []
        with self._store.transaction() as tx:
            if not tx.lock_registered_model(name):
                raise no_model_error(tx, name)
            current = tx.read_model_version(name, number)
            if current is None:
                raise not_found_error(tx, name, f"Model {name!r} has no version {number}.")
            if current.status is not VersionStatus.READY:
                raise ConflictError(f"Version {number} of {name!r} is {current.status.value}; only READY versions move.")
            check_transition(current.stage, target, what=f"Version {number} of {name!r}")
            if target is Stage.PRODUCTION:
                others = [v for v in tx.read_model_versions(name, stages=[Stage.PRODUCTION.value]) if v.version != number]
                if others and not archive_existing:
                    raise ConflictError(
                        f"Version {others[0].version} of {name!r} is in production already.",
                        hint="Pass archive_existing=True to archive it, or move it out of production first.",
                    )
                for old in others:
                    tx.update_model_version(name, old.version, {"stage": Stage.ARCHIVED.value, "updated_at": now})
                    tx.create_stage_transition(
                        {"model_name": name, "version": old.version, "from_stage": Stage.PRODUCTION.value,
                         "to_stage": Stage.ARCHIVED.value, "user": user, "flow_run_id": flow_run_id,
                         "reason": f"replaced in production by version {number}", "details": {"replaced_by": number},
                         "created_at": now}
                    )
                    moved.append((old, Stage.ARCHIVED))
            tx.update_model_version(name, number, {"stage": target.value, "updated_at": now})
            tx.create_stage_transition(
                {"model_name": name, "version": number, "from_stage": current.stage.value, "to_stage": target.value,
                 "user": user, "reason": why, "flow_run_id": flow_run_id, "details": extra, "created_at": now}
            )
            tx.update_registered_model(name, {"updated_at": now})
            moved.append((current, target))
            result: ModelVersion = tx.read_model_version(name, number)  # type: ignore[assignment]  # exists: same transaction
        for before, to in moved:
            payload = {"from": before.stage.value, "to": to.value, "reason": why, "user": user}
            self._emit("trackflow.model.transitioned", before, payload)
        return result

    def history(self, name: str, *, version: int | str | None = None) -> list[StageTransition]:
        """Every stage transition of a model (or one version), oldest first."""
        name = validate_model_name(name)
        number = validate_version(version) if version is not None else None
        with self._store.transaction(write=False) as tx:
            if tx.read_registered_model(name) is None:
                raise no_model_error(tx, name)
            return tx.read_stage_transitions(name, version=number)

    # ---- aliases --------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int | str) -> ModelVersion:
        """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
        name, alias, number = validate_model_name(name), validate_alias(alias), validate_version(version)
        with self._store.transaction() as tx:
            if not tx.lock_registered_model(name):
                raise no_model_error(tx, name)
            if tx.read_model_version(name, number) is None:
                raise not_found_error(tx, name, f"Model {name!r} has no version {number}.")
            previous = tx.read_model_aliases(name).get(alias)
            tx.set_model_alias(name, alias, number, now=now_ms())
            result: ModelVersion = tx.read_model_version(name, number)  # type: ignore[assignment]  # exists: same transaction
        self._emit("trackflow.model.aliased", result, {"alias": alias, "previous_version": previous})
        return result

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; NotFoundError if the model has no such alias."""
        name, alias = validate_model_name(name), validate_alias(alias)
        with self._store.transaction() as tx:
            previous = tx.read_model_aliases(name).get(alias)
            if previous is None or not tx.delete_model_alias(name, alias):
                raise not_found_error(tx, name, f"Model {name!r} has no alias {alias!r}.")
            version: ModelVersion = tx.read_model_version(name, previous)  # type: ignore[assignment]  # exists: same transaction
        self._emit("trackflow.model.aliased", version, {"alias": alias, "previous_version": previous, "deleted": True})

    # ---- URIs, loading, deployments -------------------------------------------------

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names; NotFoundError lists what exists."""
        parsed = parse_model_uri(uri)
        if parsed.kind == "run":
            raise InvalidInputError(
                f"{uri!r} names a run artifact, not a registered version.", hint="Load it with load_model."
            )
        with self._store.transaction(write=False) as tx:
            return resolve_version(tx, parsed)

    def load_model(self, uri: str, *, allow_unsafe: bool = False) -> PackagedModel:
        """Resolve ``uri``, verify the package's sha256 against the registry, load it."""
        from trackflow.registry.loading import load_model

        return load_model(uri, allow_unsafe=allow_unsafe, client=self._client)

    # ---- helpers --------------------------------------------------------------------

    def _emit(self, event: str, version: ModelVersion, payload: Mapping[str, Any]) -> None:
        """Publish an event when running inside a flow run (through the registered publisher; never raises)."""
        flow_run = hooks.current_flow_run()
        if flow_run is None:
            return
        import math

        related = [{"prefect.resource.id": f"trackflow.model-version.{version.name}.{version.version}",
                    "prefect.resource.role": "model-version",
                    "prefect.resource.name": f"{version.name} v{version.version}"}]  # fmt: skip
        extra: dict[str, Any] = {}
        if event == "trackflow.model.registered":
            extra["metrics"] = {}
        if version.run_id:
            run_name = version.run_id
            try:
                run_name = self._client.get_run(version.run_id).name
                if "metrics" in extra:  # the model's own metrics, then its flow run's (finite: JSON-safe)
                    from trackflow.tracking.rollup import model_metrics

                    found = model_metrics(self._client, version.run_id)
                    extra["metrics"] = {k: float(v) for k, v in sorted(found.items()) if math.isfinite(v)}
            except Exception:  # noqa: BLE001 - an event never fails the registry call
                pass
            related.append({"prefect.resource.id": f"trackflow.run.{version.run_id}", "prefect.resource.role": "run",
                            "prefect.resource.name": run_name})  # fmt: skip
        related.append({"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.role": "flow-run",
                        "prefect.resource.name": flow_run.name or flow_run.id})  # fmt: skip
        hooks.publish_event(
            event,
            resource_id=f"trackflow.model.{version.name}",
            resource={"prefect.resource.name": version.name},
            related=related[:100],
            payload={"name": version.name, "version": version.version, **payload, **extra},
        )
