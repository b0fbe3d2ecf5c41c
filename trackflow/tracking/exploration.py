"""Exploration runs: the notebook or script work before there is a pipeline.

``tf.explore("churn")`` starts a run of kind ``exploration`` and makes it active; use it
as a context manager (``with tf.explore("churn"):``) or as a plain call in a notebook
(the run then stays active across cells until ``tf.end_run()``, the next ``tf.explore``
or the kernel's exit). In IPython / Jupyter the notebook is recorded when the run ends
and on every ``tf.snapshot()`` (see :mod:`trackflow.tracking.notebook`); a plain script
is recorded as source like any run. ``%load_ext trackflow`` adds the ``%explore`` and
``%snapshot`` line magics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from trackflow.exceptions import TrackflowError
from trackflow.tracking import context
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.fluent import ActiveRun, get_client
from trackflow.tracking.notebook import NotebookSnapshot, record_notebook

__all__ = ["EXPLORATION", "ExplorationRun", "explore", "snapshot", "load_ipython_extension"]

EXPLORATION = "exploration"
"""The ``kind`` of an exploration run."""
logger = logging.getLogger("trackflow.tracking")
_current: list[ExplorationRun] = []


class ExplorationRun(ActiveRun):
    """An active exploration run; ending it (or leaving its ``with`` block) records the notebook."""

    def __init__(self, run: Any, client: Any, *, notebook: str | os.PathLike[str] | None) -> None:
        super().__init__(run, client)
        self.notebook = notebook

    def snapshot(self) -> NotebookSnapshot | None:
        """Record the notebook now (``notebook/<name>.ipynb`` and ``.html``); None outside a notebook."""
        return record_notebook(self.client, self.id, notebook=self.notebook)

    def _finish(self, status: RunStatus | str, *, error: str | None = None) -> None:
        if self in _current:
            _current.remove(self)
            try:
                self.snapshot()
            except Exception as exc:  # noqa: BLE001 - the run still ends
                logger.warning("trackflow: could not record the notebook of run %s: %s", self.id, exc)
        super()._finish(status, error=error)


def explore(
    experiment: str,
    name: str | None = None,
    *,
    notebook: str | os.PathLike[str] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ExplorationRun:
    """Start an exploration run in ``experiment`` and make it the active run.

    ``name`` names the run; ``notebook`` is the path of the running notebook when the
    kernel cannot tell (see :func:`~trackflow.tracking.notebook.find_notebook`). An
    exploration started earlier in this process and still open ends first (FINISHED),
    so re-running the cell does not nest explorations.
    """
    if notebook is not None:
        from trackflow.tracking.notebook import find_notebook

        notebook = find_notebook(notebook)  # checked now, not when the run ends
    for earlier in list(_current):
        earlier.end(RunStatus.FINISHED)
    client = get_client()
    parent = context.active_run_id()
    run = client.create_run(experiment, run_name=name, parent_run_id=parent, tags=tags, kind=EXPLORATION)
    active = ExplorationRun(run, client, notebook=notebook)
    _current.append(active)
    return active


def snapshot(*, notebook: str | os.PathLike[str] | None = None) -> NotebookSnapshot | None:
    """Record the running notebook as artifacts of the current exploration run now."""
    if not _current:
        raise TrackflowError("No exploration run is active.", hint="Start one with trackflow.explore('<experiment>').")
    current = _current[-1]
    return record_notebook(current.client, current.id, notebook=notebook or current.notebook)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext trackflow``: the ``%explore EXPERIMENT [NAME]`` and ``%snapshot`` line magics."""

    def explore_magic(line: str) -> ExplorationRun:
        parts = line.split()
        if not parts:
            raise TrackflowError("Usage: %explore EXPERIMENT [RUN_NAME]")
        return explore(parts[0], parts[1] if len(parts) > 1 else None)

    def snapshot_magic(line: str) -> NotebookSnapshot | None:
        return snapshot()

    ipython.register_magic_function(explore_magic, "line", "explore")
    ipython.register_magic_function(snapshot_magic, "line", "snapshot")
