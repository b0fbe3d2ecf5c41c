"""Tracking options of trackflow's ``flow`` and ``task`` decorators.

Every option is keyword-only on the decorators and on ``with_options``:

``experiment``
    Experiment of the run. A top-level flow defaults to the flow's name; subflows and
    tasks default to the experiment of the run they are nested in (a task outside any
    tracked flow: the task's name).
``run_name``
    Name of the run; a ``str.format`` template over the call's parameters (``"fit-{n}"``)
    or a plain name. Default: Prefect's flow-run / task-run name.
``autolog``
    Master switch of automatic value logging. ``False`` records the run, its status and
    nesting only (``trackflow.log_*`` calls still work).
``log_params``
    Scalar arguments (str, int, float, bool, None) become params; others become params
    holding their type name (short lists/tuples/dicts of scalars: their JSON).
``log_datasets``
    DataFrame / Series / ndarray arguments and paths of existing files become input
    datasets; returned frames and arrays become output datasets.
``log_models``
    A returned fitted scikit-learn estimator: its ``get_params()`` as ``model.*``
    params, training metrics (``training_*``) and the saved model package.
``informed_by``
    Exploration runs and notes (run ids, ``run:<id>``, ``note:<id>``, ``Run`` / ``Note``)
    that informed this flow: each flow run records an ``informs`` edge from each of them
    (:func:`link_informed_by`); a deployment adds its own through the flow run's tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from trackflow.exceptions import InvalidInputError

__all__ = [
    "FLOW_HOOKS",
    "INFORMED_BY_TAG",
    "RUN_OPTION_TAGS",
    "TASK_HOOKS",
    "UNSET",
    "TrackingOptions",
    "link_informed_by",
    "run_option_tags",
]


class _Unset:
    """Marker of an option that ``with_options`` leaves as it was."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

TASK_HOOKS = ("on_completion", "on_failure")
"""Task state hooks trackflow chains its own hook into (user hooks run after it)."""

FLOW_HOOKS = ("on_failure", "on_crashed", "on_cancellation")
"""Flow state hooks trackflow chains its own hook into (user hooks run after it)."""


@dataclass(frozen=True)
class TrackingOptions:
    """What a tracked flow or task records (see the module docstring)."""

    experiment: str | None = None
    run_name: str | None = None
    autolog: bool = True
    log_params: bool = True
    log_datasets: bool = True
    log_models: bool = True
    informed_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from trackflow.tracking.notes import informing_nodes

        object.__setattr__(self, "informed_by", tuple(informing_nodes(self.informed_by or ())))
        for option in fields(self):
            value = getattr(self, option.name)
            if option.name == "informed_by":
                continue
            if isinstance(option.default, bool):  # the switches
                if not isinstance(value, bool):
                    raise InvalidInputError(f"Tracking option {option.name!r} must be True or False, got {value!r}.")
            elif value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidInputError(
                    f"Tracking option {option.name!r} must be a non-empty string or None, got {value!r}."
                )

    @classmethod
    def names(cls) -> frozenset[str]:
        """The option names: the fields of this class, the one place they are declared."""
        return _NAMES

    @classmethod
    def split(cls, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``options`` split into (tracking options, everything else: Prefect's options).

        The decorators and ``with_options`` take ``**options`` and split them here; an
        unknown name is not a tracking option and reaches Prefect, which rejects it.
        """
        tracking = {k: v for k, v in options.items() if k in _NAMES}
        rest = {k: v for k, v in options.items() if k not in _NAMES}
        return tracking, rest

    @property
    def params(self) -> bool:
        """Log arguments as params."""
        return self.autolog and self.log_params

    @property
    def datasets(self) -> bool:
        """Log dataset arguments and results."""
        return self.autolog and self.log_datasets

    @property
    def models(self) -> bool:
        """Log returned fitted models."""
        return self.autolog and self.log_models

    def updated(self, **changes: Any) -> TrackingOptions:
        """A copy with the options in ``changes`` that are not UNSET replaced."""
        given = {k: v for k, v in changes.items() if v is not UNSET}
        return replace(self, **given) if given else self

    def format_run_name(self, parameters: dict[str, Any]) -> str | None:
        """``run_name`` filled with the call's parameters (as given when it cannot be)."""
        if self.run_name is None:
            return None
        try:
            return self.run_name.format(**parameters)
        except (KeyError, IndexError, ValueError, AttributeError):
            return self.run_name

    def from_run_tags(self, tags: Iterable[str] | None) -> TrackingOptions:
        """A copy with the options carried by a flow run's Prefect ``tags`` (:func:`run_option_tags`)
        replacing this flow's own: how a deployment's experiment and run name reach a top-level
        flow run on a worker. Several values of one option: the first in sorted order."""
        changes: dict[str, Any] = {}
        informing = sorted(t[len(INFORMED_BY_TAG):] for t in (tags or ()) if isinstance(t, str) and t.startswith(INFORMED_BY_TAG))
        if informing:
            changes["informed_by"] = (*self.informed_by, *informing)
        for option, prefix in RUN_OPTION_TAGS.items():
            values = sorted(t[len(prefix):] for t in (tags or ()) if isinstance(t, str) and t.startswith(prefix))
            if values and values[0].strip():
                changes[option] = values[0]
        return self.updated(**changes)

    def for_flow_run(self, flow_run: Any) -> TrackingOptions:
        """The options of a top-level Prefect ``flow_run`` starting in this process: this flow's,
        with those its tags carry (:meth:`from_run_tags`).

        A run of a deployment executes in a process of its own (a worker's, ``serve``'s
        subprocess), so a process-local artifact root (``memory://``) is refused for it
        (InvalidInputError naming the root, before anything is recorded).
        """
        if getattr(flow_run, "deployment_id", None) is not None:
            from trackflow.tracking.artifact_roots import require_shared_root
            from trackflow.tracking.fluent import get_client

            name = getattr(flow_run, "name", None) or flow_run.id
            require_shared_root(get_client().artifact_root,
                                where=f"by flow run {name!r} of a deployment, which executes in a process of its own")
        return self.from_run_tags(getattr(flow_run, "tags", None))


_NAMES = frozenset(option.name for option in fields(TrackingOptions))

RUN_OPTION_TAGS = {"experiment": "trackflow.experiment:", "run_name": "trackflow.run_name:"}
"""Prefect tags that carry a tracking option to a flow run (a deployment's tags are copied
into every flow run created from it, whatever executes it: any work pool, ``serve``)."""


INFORMED_BY_TAG = "trackflow.informed_by:"
"""Prefect tag prefix of a run or note that informed a flow run (one tag per source)."""


def run_option_tags(
    *, experiment: str | None = None, run_name: str | None = None, informed_by: Iterable[str] = ()
) -> list[str]:
    """The Prefect tags that make a flow run record into ``experiment`` / name its run
    ``run_name`` / record that ``informed_by`` (run ids, note refs) informed it."""
    checked = TrackingOptions(experiment=experiment, run_name=run_name, informed_by=tuple(informed_by))
    given = {"experiment": experiment, "run_name": run_name}
    return [RUN_OPTION_TAGS[k] + v for k, v in given.items() if v is not None] + [
        INFORMED_BY_TAG + node for node in checked.informed_by
    ]


def link_informed_by(run_id: str, options: TrackingOptions) -> None:
    """Record what informed the flow run ``run_id``: ``options.informed_by`` and the
    ``trackflow.informed_by:`` tags of the current Prefect flow run (a deployment's spec).
    Never raises: a failure is logged (the flow runs on)."""
    import logging

    from trackflow.tracking.fluent import get_client

    try:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        tags = getattr(getattr(context, "flow_run", None), "tags", None) if context is not None else None
        sources = options.from_run_tags(tags).informed_by
        if sources:
            get_client().link_informs(run_id, sources)
    except Exception as exc:  # noqa: BLE001 - tracking never breaks the flow
        logging.getLogger("trackflow.flows").warning("trackflow: could not record what informed run %s: %s", run_id, exc)
