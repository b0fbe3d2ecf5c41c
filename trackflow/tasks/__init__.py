"""Ready-made tracked Prefect tasks: prep, train, evaluate, register, deploy, score.

Each is imported on first use (importing a task module imports Prefect), so
``import trackflow.tasks`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "load_dataset",
    "split_dataset",
    "train_model",
    "evaluate_model",
    "register_model",
    "register_and_stage",
    "deploy_model",
    "score_batch",
]

_LAZY = {
    "load_dataset": "trackflow.tasks.data",
    "split_dataset": "trackflow.tasks.data",
    "train_model": "trackflow.tasks.training",
    "evaluate_model": "trackflow.tasks.evaluation",
    "register_model": "trackflow.tasks.register",
    "register_and_stage": "trackflow.tasks.register",
    "deploy_model": "trackflow.tasks.deploy",
    "score_batch": "trackflow.tasks.scoring",
}


def __getattr__(name: str) -> Any:
    """Import the module of a task on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trackflow.tasks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
