"""The reference pipelines: ``training_pipeline`` (load, split, train, evaluate, register).

They are built from the ready-made tasks of :mod:`trackflow.tasks` with the tracked
decorators of :mod:`trackflow.tracked` (``trackflow.flow`` / ``trackflow.task``), live in
:mod:`trackflow.flows.pipelines` and are imported from here on first use, so specs can
name ``trackflow.flows:training_pipeline``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PipelineResult", "training_pipeline"]

_PIPELINES = frozenset({"training_pipeline", "PipelineResult", "check_training_parameters", "DEFAULT_ESTIMATOR"})


def __getattr__(name: str) -> Any:
    """Import the reference pipelines (and the ready-made tasks they use) on first use."""
    if name in _PIPELINES:
        from trackflow.flows import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'trackflow.flows' has no attribute {name!r}")
