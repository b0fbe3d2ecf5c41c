"""The Client: the one programmatic entry to everything trackflow stores.

Split by concern: runs and search here, logging in :mod:`.client_logging`, artifacts and
datasets in :mod:`.client_artifacts`, lineage in :mod:`.lineage`. The Client owns the
transactions; reads first write whatever this process has queued, so they see it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.settings import TrackflowSettings, get_settings
from trackflow.tracking import hooks
from trackflow.tracking.client_artifacts import ArtifactsMixin
from trackflow.tracking.client_lifecycle import LifecycleMixin
from trackflow.tracking.client_logging import LoggingMixin
from trackflow.tracking.client_runs import RunQueriesMixin
from trackflow.tracking.entities import Experiment, Run, RunStatus, ms_to_datetime, now_ms
from trackflow.tracking.lineage import LineageMixin
from trackflow.tracking.notes import NotesMixin
from trackflow.tracking.search import (
    check_search_text,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)
from trackflow.tracking.source import SourceInfo, current_source
from trackflow.tracking.stores import open_store
from trackflow.tracking.validation import (
    tag_value_to_str,
    validate_key,
    validate_name,
    validate_params,
    validate_run_id,
)

if TYPE_CHECKING:  # typing only (import-linter ignores it): tracking does not import the registry
    from trackflow.registry.client import RegistryClient
    from trackflow.tracking.store.base import TrackingTransaction

__all__ = ["Client", "RunPage", "DEFAULT_EXPERIMENT"]

DEFAULT_EXPERIMENT = "Default"
MAX_RESULTS_LIMIT = 50_000


class RunPage(list[Run]):
    """A page of search results; ``token`` fetches the next page (None on the last)."""

    token: str | None = None


class Client(LoggingMixin, NotesMixin, ArtifactsMixin, LineageMixin, RunQueriesMixin, LifecycleMixin):
    """Read and write runs, metrics, artifacts, datasets, lineage and (``.registry``) models.

    ``Client()`` uses ``TRACKFLOW_TRACKING_URI`` / ``TRACKFLOW_ARTIFACT_ROOT`` or the
    embedded defaults under ``TRACKFLOW_HOME``.
    """

    def __init__(self, tracking_uri: str | None = None, *, artifact_root: str | None = None) -> None:
        settings = get_settings()
        self.settings: TrackflowSettings = settings
        self.tracking_uri: str = tracking_uri or settings.tracking_uri
        self.artifact_root: str = artifact_root or settings.artifact_root
        handle = open_store(self.tracking_uri, settings)
        self._store = handle.store
        self._buffer = handle.buffer
        self._experiment_ids = handle.experiment_ids
        self._artifact_store: Any = None
        self._registry: RegistryClient | None = None

    # ---- plumbing -------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything queued by this process now."""
        self._buffer.flush()

    @property
    def registry(self) -> RegistryClient:
        """The model registry on the same database (see :mod:`trackflow.registry`).

        Built by the factory the registry registers with :mod:`trackflow.tracking.hooks`
        (tracking does not import the registry); it shares this client's store.
        """
        if self._registry is None:
            self._registry = hooks.open_registry(self, self._store)
        return self._registry

    # ---- experiments ----------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created on first use."""
        validate_name(name)
        with self._store.transaction() as tx:
            experiment = tx.get_or_create_experiment(name)
        self._experiment_ids[name] = experiment.id  # start_run can queue its runs now
        return experiment

    def get_experiment_by_name(self, name: str) -> Experiment:
        """The experiment called ``name``; NotFoundError if there is none."""
        with self._store.transaction(write=False) as tx:
            experiment = tx.read_experiment_by_name(name)
            if experiment is None:
                known = [e.name for e in tx.read_experiments()]
        if experiment is None:
            raise NotFoundError(f"No experiment named {name!r}. Known experiments: {', '.join(known) or 'none'}.")
        return experiment

    def list_experiments(self) -> list[Experiment]:
        """All experiments, by name."""
        with self._store.transaction(write=False) as tx:
            return tx.read_experiments()

    # ---- runs -----------------------------------------------------------------------

    def create_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        kind: str = "manual",
        flow_run_id: str | None = None,
        task_run_id: str | None = None,
        prefect_name: str | None = None,
        defer: bool = False,
    ) -> Run:
        """Start a RUNNING run in ``experiment`` (created on first use), with its first params and tags.

        With ``defer=True`` the run is queued like a metric and written with the next batch
        (any read or direct write that needs it flushes first): the cheap path for many
        short runs, such as the task runs of a flow.
        """
        validate_name(experiment)
        clean_params = validate_params(params or {})
        source = current_source()
        values = _new_run_values(run_name, parent_run_id, kind, flow_run_id, task_run_id, prefect_name, source)
        clean_tags = _validated_tags(tags)
        experiment_id = self._experiment_ids.get(experiment)
        if defer and experiment_id is not None and self._known_parent(values["parent_run_id"]):
            values["experiment_id"] = experiment_id  # nothing to read from the store: queue it
            self._buffer.add_run(values)
            if clean_params:
                self._buffer.add_params(values["id"], clean_params)
            if clean_tags:
                self._buffer.add_tags(values["id"], clean_tags)
        else:
            self._write_run(values, experiment, clean_params, clean_tags)
        return _run_from_values(values, experiment, source, clean_params, clean_tags)

    def start_prefect_run(
        self,
        experiment: str,
        *,
        kind: str,
        flow_run_id: str | None,
        task_run_id: str | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        prefect_name: str | None = None,
    ) -> tuple[Run, bool]:
        """The run of a Prefect task run (``task_run_id``) or flow run (``kind="flow"``): created,
        or resumed when an earlier execution made it. Returns ``(run, created)``.

        One run per Prefect run whatever executes it how often: the insert and the read of the
        winner are one transaction on the store's unique Prefect keys, so processes racing to
        create it end with one run. A resumed run becomes the record of this execution:
        ``attempts`` counts it and ``pid``/``host`` name this process; params and tags are
        kept (write-once params of the same inputs are unchanged).

        * Left RUNNING (its worker died mid-run): its metric values are deleted now (this
          execution logs them again) and it stays RUNNING until this execution ends it.
        * Already ended (Dask recomputes a result lost with its worker): its status and values
          stay as they are while this execution runs, so a recomputation cut short (the
          cluster closing) leaves the earlier record whole; when this execution ends, its
          caller drops the values logged before it (:meth:`drop_metrics_before`).
        """
        validate_name(experiment)
        clean_params = validate_params(params or {})
        source = current_source()
        values = _new_run_values(run_name, parent_run_id, kind, flow_run_id, task_run_id, prefect_name, source)
        if task_run_id is None and (kind != "flow" or flow_run_id is None):
            raise InvalidInputError("start_prefect_run needs a task_run_id, or kind='flow' with a flow_run_id.")
        clean_tags = _validated_tags(tags)
        self._buffer.flush()  # a resumed run's queued values belong to the earlier execution
        run_id = self._write_run(values, experiment, clean_params, clean_tags, resume=True)
        if run_id == values["id"]:
            return _run_from_values(values, experiment, source, clean_params, clean_tags), True
        self._buffer.remember_run(run_id)
        return self.get_run(run_id), False

    def drop_metrics_before(self, run_id: str, before: int) -> None:
        """Delete the metric values of a run logged before ``before`` (ms since the epoch):
        what an earlier execution of a resumed Prefect run logged (see :meth:`start_prefect_run`).
        Queued values are written first; the latest values are computed again."""
        run_id = validate_run_id(run_id)
        self._buffer.flush()
        with self._store.transaction() as tx:
            tx.delete_metrics_before(run_id, before)

    def _known_parent(self, parent: str | None) -> bool:
        """True when a new run's parent needs no check in the store (none, or known here)."""
        return parent is None or self._buffer.is_known_run(parent)

    def _write_run(
        self, values: dict[str, Any], experiment: str, params: dict[str, str], tags: dict[str, str], *, resume: bool = False
    ) -> str:
        """Write a validated new run, its params and tags in one transaction; its id.

        With ``resume`` (a Prefect run, see :meth:`start_prefect_run`) the run of the same
        Prefect run is resumed instead when there is one, and its id returned.
        """
        parent = values["parent_run_id"]
        experiment_id = self._experiment_ids.get(experiment)
        with self._store.transaction() as tx:
            if not (self._known_parent(parent) or tx.read_runs([parent])):
                raise NotFoundError(f"Parent run {parent} does not exist.")
            if experiment_id is None:
                experiment_id = tx.get_or_create_experiment(experiment).id
            values["experiment_id"] = experiment_id
            if resume:
                run_id = tx.create_prefect_run(values)
            else:
                tx.create_run(values)
                run_id = values["id"]
            if run_id != values["id"]:
                _resume(tx, run_id, values)
            else:
                tx.log_params(run_id, params)
                tx.set_tags(run_id, tags)
        self._experiment_ids[experiment] = experiment_id
        if parent is not None:  # checked once per process (a worker's task runs share their flow's run)
            self._buffer.remember_run(parent)
        if run_id == values["id"]:
            self._buffer.mark_new_run(run_id)
            self._buffer.remember_params(run_id, params)
        return run_id

    def end_run(
        self, run_id: str, status: RunStatus | str = RunStatus.FINISHED, *, error: str | None = None, defer: bool = False
    ) -> None:
        """End a run: set its status and end time, in the same transaction as its queued values.

        With ``defer=True`` the change is queued and written with the next batch.
        """
        run_id = validate_run_id(run_id)
        final = _parse_status(status)
        if final is RunStatus.RUNNING:
            raise InvalidInputError("end_run needs a final status: FINISHED, FAILED, CRASHED or KILLED.")
        self.update_run(run_id, status=final, error=error, end_time=now_ms(), defer=defer)
        self._buffer.forget_run(run_id)

    def update_run(self, run_id: str, *, defer: bool = False, **values: Any) -> None:
        """Change run attributes: status, error, end_time, attempts, name, task/flow run ids.

        The change is written together with everything queued (or, with ``defer=True``,
        queued itself); an unknown run raises NotFoundError.
        """
        allowed = {"status", "error", "end_time", "attempts", "name", "flow_run_id", "task_run_id", "prefect_name", "pid", "host"}
        unknown = set(values) - allowed
        if unknown:
            raise InvalidInputError(f"Cannot update run attribute(s) {sorted(unknown)}; allowed: {sorted(allowed)}.")
        if "status" in values:
            values["status"] = _parse_status(values["status"]).value
        if values.get("name") is not None:
            validate_name(values["name"], "Run name")
        run_id = self._known_run(run_id)
        self._buffer.add_run_update(run_id, values)
        if not defer:
            self._buffer.flush()

    def get_run(self, run_id: str) -> Run:
        """One run with its params, latest metrics and tags, by any reference a user has (see
        :meth:`find_run`: full id, Prefect flow-run / task-run id, unique id prefix, run name);
        NotFoundError if none matches."""
        return self.find_run(run_id)

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Several runs by id, in the given order (unknown ids skipped)."""
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            return tx.read_runs([validate_run_id(r) for r in run_ids])

    def get_run_by_prefect_id(self, prefect_id: str | uuid.UUID) -> Run:
        """The run of a Prefect flow run or task run; NotFoundError if none."""
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            run = tx.read_run_by_prefect_id(str(prefect_id))
        if run is None:
            raise NotFoundError(f"No trackflow run for Prefect run {prefect_id}.")
        return run

    def get_child_runs(self, run_id: str) -> list[Run]:
        """Runs nested under ``run_id`` (e.g. the task runs of a flow run), oldest first."""
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            return tx.read_runs(tx.read_child_run_ids(validate_run_id(run_id)))

    def _experiment_names(self, experiment_ids: Sequence[str]) -> list[str]:
        """The names of experiments given by id (MLflow's ``experiment_ids``); NotFoundError for an unknown id."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        by_id = {e.id: e.name for e in self.list_experiments()}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise NotFoundError(
                f"No experiment with id {unknown[0]!r}.", hint="trackflow experiments list shows the ids; or pass names."
            )
        return [by_id[i] for i in ids]

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - MLflow's name
        *,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        output: Literal["list", "pandas"] = "list",
        experiment_ids: Sequence[str] | None = None,
        experiment_names: Sequence[str] | None = None,
        filter_string: str | None = None,
        output_format: Literal["list", "pandas"] | None = None,
    ) -> Any:
        """Search runs: ``filter`` over metrics./params./tags./attributes., ordered, paged.

        ``experiments`` are experiment names. Returns a :class:`RunPage` (a list of Run with
        ``.token`` for the next page) or, with ``output="pandas"``, a DataFrame with one row
        per run. MLflow's keywords work too: ``experiment_ids`` (ids, not names),
        ``experiment_names``, ``filter_string`` and ``output_format``; giving both spellings
        of one option raises InvalidInputError.
        """
        filter = _one_of("filter", filter, "filter_string", filter_string)  # noqa: A001 - MLflow's name
        output = _one_of("output", None if output == "list" else output, "output_format", output_format) or "list"
        experiments = _one_of("experiments", experiments, "experiment_names", experiment_names)
        if experiment_ids is not None:
            if experiments is not None:
                raise InvalidInputError("Pass experiments (names) or experiment_ids, not both.")
            experiments = self._experiment_names(experiment_ids)
        if not isinstance(max_results, int) or not 0 < max_results <= MAX_RESULTS_LIMIT:
            raise InvalidInputError(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results!r}.")
        if output not in ("list", "pandas"):
            raise InvalidInputError(f"output must be 'list' or 'pandas', got {output!r}.")
        expr = parse_filter(filter)
        orders = parse_order_by([order_by] if isinstance(order_by, str) else list(order_by or []))
        offset = 0 if page_token is None or page_token == "" else decode_page_token(page_token)
        names = [experiments] if isinstance(experiments, str) else list(experiments or [])
        names = [check_search_text(name, "experiment name") for name in names]
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            in_experiments: list[str] | None = None  # ids of the named experiments
            if names:
                in_experiments = []
                for name in names:
                    cached = self._experiment_ids.get(name)
                    found = cached or getattr(tx.read_experiment_by_name(name), "id", None)
                    if found is not None:
                        in_experiments.append(found)
                        self._experiment_ids[name] = found
            ids = tx.search_run_ids(
                experiment_ids=in_experiments, filter_expr=expr, order_by=orders, limit=max_results + 1, offset=offset
            )
            runs = tx.read_runs(ids[:max_results])
        page = RunPage(runs)
        page.token = encode_page_token(offset + max_results) if len(ids) > max_results else None
        if output == "pandas":
            from trackflow.tracking.frames import runs_to_frame

            return runs_to_frame(page)
        return page


def _new_run_values(
    run_name: str | None,
    parent_run_id: str | None,
    kind: str,
    flow_run_id: str | None,
    task_run_id: str | None,
    prefect_name: str | None,
    source: SourceInfo,
) -> dict[str, Any]:
    """The row of a new RUNNING run (names validated), without its experiment id."""
    if run_name is not None:
        validate_name(run_name, "Run name")
    parent = validate_run_id(parent_run_id) if parent_run_id is not None else None
    run_id = uuid.uuid4().hex
    return {
        "id": run_id,
        "name": run_name or f"run-{run_id[:8]}",
        "status": RunStatus.RUNNING.value,
        "kind": kind,
        "start_time": now_ms(),
        "end_time": None,
        "parent_run_id": parent,
        "error": None,
        "attempts": 1,
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "prefect_name": prefect_name,
        "source_commit": source.commit,
        "source_dirty": source.dirty,
        "entrypoint": source.entrypoint,
        "user": source.user,
        "host": source.host,
        "pid": os.getpid(),
        "python_version": source.python_version,
        "package_versions": json.dumps(source.packages),
    }


def _resume(tx: TrackingTransaction, run_id: str, values: Mapping[str, Any]) -> None:
    """Another execution of the run ``run_id`` starts in this process (see :meth:`Client.start_prefect_run`)."""
    left_running = tx.read_runs([run_id])[0].status is RunStatus.RUNNING
    change: dict[str, Any] = {"pid": values["pid"], "host": values["host"]}
    if left_running:
        change.update(status=RunStatus.RUNNING.value, end_time=None, error=None)
    tx.resume_run(run_id, change, clear_metrics=left_running)


def _validated_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {validate_key(k, "Tag key"): tag_value_to_str(k, v) for k, v in (tags or {}).items()}


def _run_from_values(
    values: dict[str, Any], experiment: str, source: SourceInfo, params: dict[str, str], tags: dict[str, str]
) -> Run:
    """The Run just created from its row ``values``."""
    return Run(
        id=values["id"],
        experiment_id=values["experiment_id"],
        experiment_name=experiment,
        name=values["name"],
        status=RunStatus.RUNNING,
        start_time=ms_to_datetime(values["start_time"]),  # type: ignore[arg-type]
        end_time=None,
        parent_run_id=values["parent_run_id"],
        kind=values["kind"],
        flow_run_id=values["flow_run_id"],
        task_run_id=values["task_run_id"],
        prefect_name=values["prefect_name"],
        source_commit=source.commit,
        source_dirty=source.dirty,
        entrypoint=source.entrypoint,
        user=source.user,
        host=source.host,
        pid=values["pid"],
        python_version=source.python_version,
        package_versions=dict(source.packages),
        params=dict(sorted(params.items())),
        tags=dict(sorted(tags.items())),
    )


def _parse_status(status: RunStatus | str) -> RunStatus:
    try:
        return status if isinstance(status, RunStatus) else RunStatus(str(status).upper())
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidInputError(f"Unknown run status {status!r}; use one of: {allowed}.") from None


def _one_of(name: str, value: Any, alias: str, alias_value: Any) -> Any:
    """The value of an option given under its trackflow name or its MLflow alias, not both."""
    if value is not None and alias_value is not None:
        raise InvalidInputError(f"Pass {name} or {alias} (MLflow's name for it), not both.")
    return alias_value if alias_value is not None else value
