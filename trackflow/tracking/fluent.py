"""The fluent API: ``start_run`` and ``log_*`` against the active run.

Everything goes through a :class:`~trackflow.tracking.client.Client`. The active run is
the innermost ``start_run`` of the current context, or the run trackflow's Prefect
decorators bound to the current flow or task run.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from trackflow.exceptions import InvalidInputError, TrackflowError
from trackflow.tracking import context
from trackflow.tracking.client import DEFAULT_EXPERIMENT, Client
from trackflow.tracking.entities import Artifact, Dataset, Note, Run, RunStatus
from trackflow.tracking.figures import LoggedFigure

__all__ = [
    "ActiveRun",
    "start_run",
    "end_run",
    "active_run",
    "active_run_id",
    "get_client",
    "use_client",
    "reset_client",
    "log_param",
    "log_params",
    "log_metric",
    "log_metrics",
    "log_batch",
    "set_tag",
    "set_tags",
    "note",
    "log_figure",
    "log_dataset",
    "log_artifact",
    "log_dict",
    "log_text",
]

_clients: dict[tuple[str | None, ...], Client] = {}
_clients_lock = threading.Lock()
_open_runs: dict[str, ActiveRun] = {}


_scoped_client: ContextVar[Client | None] = ContextVar("trackflow_scoped_client", default=None)


def use_client(client: Client | None) -> Token[Client | None]:
    """Make ``client`` what :func:`get_client` returns in this context (a tracked task run
    recording into its flow run's store on a worker); undo with :func:`reset_client`."""
    return _scoped_client.set(client)


def reset_client(token: Token[Client | None]) -> None:
    """Undo :func:`use_client` (tolerates a reset from another context)."""
    try:
        _scoped_client.reset(token)
    except ValueError:
        _scoped_client.set(None)


def get_client() -> Client:
    """The Client of this context (:func:`use_client`), else the process's Client for the
    current TRACKFLOW_* settings (cached)."""
    scoped = _scoped_client.get()
    if scoped is not None:
        return scoped
    key = (
        os.environ.get("TRACKFLOW_TRACKING_URI"),
        os.environ.get("TRACKFLOW_ARTIFACT_ROOT"),
        os.environ.get("TRACKFLOW_HOME"),
    )
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key) or Client()
            _clients[key] = client
    return client


class ActiveRun:
    """A run started with :func:`start_run`; a context manager that ends it.

    Leaving the block normally ends the run FINISHED, by an exception FAILED (with the
    error recorded), by Ctrl-C KILLED.
    """

    def __init__(self, run: Run, client: Client) -> None:
        self.id = run.id
        self.name = run.name
        self.experiment_name = run.experiment_name
        self.client = client
        self._token = context.push_run(run.id)
        _open_runs[run.id] = self

    @property
    def run(self) -> Run:
        """The run as stored now (params, metrics, tags, status)."""
        return self.client.get_run(self.id)

    def end(self, status: RunStatus | str = RunStatus.FINISHED, *, error: str | None = None) -> Run:
        """End the run with ``status``, make its parent (if any) active again; return it as stored."""
        self._finish(status, error=error)
        return self.client.get_run(self.id)

    def _finish(self, status: RunStatus | str, *, error: str | None = None) -> None:
        if _open_runs.pop(self.id, None) is not None:
            context.pop_run(self._token)
        self.client.end_run(self.id, status, error=error)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self._finish(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self._finish(RunStatus.KILLED, error="KeyboardInterrupt")
        else:
            self._finish(RunStatus.FAILED, error=f"{exc_type.__name__}: {exc}")

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r}, experiment={self.experiment_name!r})"


def start_run(
    experiment: str | None = None,
    run_name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    nested: bool | None = None,
) -> ActiveRun:
    """Start a run and make it active. Inside another active run it is nested under it.

    ``nested`` is MLflow's keyword: trackflow nests by default, so ``nested=True`` changes
    nothing, and ``nested=False`` starts a top-level run even inside an active one.
    """
    if nested is not None and not isinstance(nested, bool):
        raise InvalidInputError(f"nested must be True, False or None, got {nested!r}.")
    client = get_client()
    parent = parent_run_id or (context.active_run_id() if nested is not False else None)
    experiment_name = experiment
    if experiment_name is None:
        experiment_name = client.get_run(parent).experiment_name if parent else DEFAULT_EXPERIMENT
    # queued like its metrics: written with the first batch, read, or at the run's end
    run = client.create_run(experiment_name, run_name=run_name, parent_run_id=parent, tags=tags, defer=True)
    return ActiveRun(run, client)


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> Run | None:
    """End the innermost run started with start_run (no-op when there is none)."""
    stack = context.run_stack()
    if not stack or stack[-1] not in _open_runs:
        return None
    return _open_runs[stack[-1]].end(status)


def active_run_id() -> str | None:
    """The id of the active run, or None."""
    return context.active_run_id()


def active_run() -> Run | None:
    """The active run as stored now, or None."""
    run_id = context.active_run_id()
    return get_client().get_run(run_id) if run_id else None


def _run_id() -> str:
    run_id = context.active_run_id()
    if run_id is None:
        raise TrackflowError(
            "No active run.",
            hint="Wrap the code in `with trackflow.start_run():` or run it inside a trackflow flow or task.",
        )
    return run_id


def log_param(key: str, value: Any) -> None:
    """Log a param of the active run."""
    get_client().log_params(_run_id(), {key: value})


def log_params(params: Mapping[str, Any]) -> None:
    """Log params of the active run."""
    get_client().log_params(_run_id(), params)


def log_metric(key: str, value: float, step: int = 0) -> None:
    """Log a metric value of the active run (queued; written in batches)."""
    get_client().log_metric(_run_id(), key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int = 0) -> None:
    """Log several metric values of the active run at one step."""
    get_client().log_metrics(_run_id(), metrics, step)


def log_batch(*, params: Mapping[str, Any] | None = None, metrics: Any = None, tags: Mapping[str, Any] | None = None) -> None:
    """Write params, metrics and tags of the active run at once: all or nothing."""
    get_client().log_batch(_run_id(), params=params, metrics=metrics, tags=tags)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    get_client().set_tags(_run_id(), {key: value})


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags of the active run."""
    get_client().set_tags(_run_id(), tags)


def note(
    text: str,
    *,
    kind: str = "note",
    evidence: Iterable[Any] | None = None,
    informs: Iterable[str | Run] | str | None = None,
) -> Note:
    """Attach a note (note, decision, assumption, finding) to the active run.

    ``evidence`` is what it rests on: lineage references (``run:<id>``, ``dataset:<fp>``,
    ``note:<id>`` ...), entities, what :func:`log_figure` returned, ``"metrics.<key>"`` of
    the active run, an artifact path of it, a DataFrame or array. ``informs``: the runs
    (pipeline runs) it informs. See :meth:`Client.note`.
    """
    return get_client().note(_run_id(), text, kind=kind, evidence=evidence, informs=informs)


def log_figure(figure: Any, path: str) -> LoggedFigure:
    """Store a matplotlib / plotly figure of the active run as PNG + SVG at ``path``
    (``"plots/age.png"``); pass the result (or its ``ref``) as a note's evidence."""
    return get_client().log_figure(_run_id(), figure, path)


def log_dataset(data: Any, name: str, *, role: str = "input", source: str | None = None) -> Dataset:
    """Record a dataset the active run used (input) or produced (output)."""
    return get_client().log_dataset(_run_id(), data, name, role=role, source=source)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> list[Artifact]:
    """Store a file or folder as artifacts of the active run."""
    return get_client().log_artifact(_run_id(), local_path, artifact_path)


def log_dict(dictionary: Any, artifact_file: str) -> Artifact:
    """Store a value as a JSON (or YAML) artifact of the active run."""
    return get_client().log_dict(_run_id(), dictionary, artifact_file)


def log_text(text: str, artifact_file: str) -> Artifact:
    """Store text as an artifact of the active run."""
    return get_client().log_text(_run_id(), text, artifact_file)


@atexit.register
def _end_open_runs() -> None:
    """Runs started without a ``with`` block end FINISHED at interpreter exit (as MLflow)."""
    for run in list(_open_runs.values()):
        try:
            run._finish(RunStatus.FINISHED)
        except Exception:  # noqa: BLE001 - never fail interpreter exit
            pass
