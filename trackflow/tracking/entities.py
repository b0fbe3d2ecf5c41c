"""Frozen entities: what the tracking store hands back to users.

ORM rows never leave the store; they are turned into these dataclasses first.
Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

__all__ = [
    "RunStatus",
    "NoteKind",
    "Experiment",
    "Run",
    "Metric",
    "Param",
    "Note",
    "Dataset",
    "RunDataset",
    "Artifact",
    "LineageEdge",
    "HIERARCHY",
    "EVIDENCE",
    "NOTED_IN",
    "INFORMS",
    "ms_to_datetime",
    "now_ms",
]


class RunStatus(str, Enum):
    """Life-cycle state of a run. RUNNING ends in one of the four others."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """True for every state but RUNNING."""
        return self is not RunStatus.RUNNING


class NoteKind(str, Enum):
    """What a note records."""

    NOTE = "note"
    DECISION = "decision"
    ASSUMPTION = "assumption"
    FINDING = "finding"


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch (the store's unit)."""
    import time

    return time.time_ns() // 1_000_000


def ms_to_datetime(value: int | None) -> datetime | None:
    """Convert the store's millisecond timestamps into aware UTC datetimes."""
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)


@dataclass(frozen=True)
class Experiment:
    """A named group of runs, created on first use."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Metric:
    """One logged value of a metric: a float at a step and a time."""

    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True)
class Param:
    """A parameter; values are stored as strings, like MLflow."""

    key: str
    value: str


@dataclass(frozen=True)
class Note:
    """A free-text note with a kind: note, decision, assumption or finding.

    A note is the lineage node ``note:<id>`` (:attr:`ref`): ``evidence`` holds the node ids
    its evidence edges come from (``dataset:<fp>``, ``run:<id>``, ``artifact:<uri>`` ...),
    with ``evidence_names`` the name recorded on each edge (``metrics.auc``, a dataset's or
    artifact's name; empty when none); ``informs`` the runs it informs (``run:<id>``).
    """

    id: int
    run_id: str
    kind: NoteKind
    text: str
    created_at: datetime
    evidence: tuple[str, ...] = ()
    evidence_names: tuple[str, ...] = ()
    informs: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The lineage reference of this note, ``note:<id>``."""
        return f"note:{self.id}"


@dataclass(frozen=True)
class Dataset:
    """A dataset identified by its content fingerprint."""

    id: str
    fingerprint: str
    name: str
    kind: str
    schema: list[dict[str, str]]
    num_rows: int | None
    num_columns: int | None
    profile: dict[str, Any]
    source: str | None
    size_bytes: int | None
    created_at: datetime

    @property
    def ref(self) -> str:
        """The lineage reference of this dataset, ``dataset:<fingerprint>``."""
        return f"dataset:{self.fingerprint}"


@dataclass(frozen=True)
class RunDataset:
    """A dataset as one run used (``input``) or produced (``output``) it, under a name."""

    dataset: Dataset
    name: str
    role: str


@dataclass(frozen=True)
class Artifact:
    """A stored file of a run."""

    run_id: str
    path: str
    uri: str
    sha256: str
    size: int
    media_type: str
    created_at: datetime


@dataclass(frozen=True)
class LineageEdge:
    """A directed edge between two lineage nodes (``run:<id>``, ``dataset:<fp>`` ...)."""

    source: str
    target: str
    relation: str
    run_id: str | None
    name: str | None
    created_at: datetime


HIERARCHY = "part_of"
"""The relation earlier versions recorded for hierarchy (task run part of flow run); the
hierarchy now comes from the runs' parents (``LineageGraph.groups``), so such edges in an
existing database are never followed or drawn."""


EVIDENCE = "evidence"
"""Relation of a lineage edge from a piece of evidence to the note (``note:<id>``) it supports."""
NOTED_IN = "noted_in"
"""Relation of a lineage edge from a note to the run it was written in."""
INFORMS = "informs"
"""Relation of a lineage edge from a note or an exploration run to a run it informed."""


@dataclass(frozen=True)
class LineageNode:
    """A node of a lineage graph: ``run``, ``dataset``, ``model`` (a logged package),
    ``model_version``, ``artifact``, ``deployment`` ... with a label and attributes."""

    id: str
    kind: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A tracked run with its latest metrics, params and tags."""

    id: str
    experiment_id: str
    experiment_name: str
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    parent_run_id: str | None = None
    kind: str = "manual"
    error: str | None = None
    attempts: int = 1
    flow_run_id: str | None = None
    task_run_id: str | None = None
    prefect_name: str | None = None
    source_commit: str | None = None
    source_dirty: bool | None = None
    entrypoint: str | None = None
    user: str | None = None
    host: str | None = None
    pid: int | None = None
    """The id of the process that started (or last resumed) the run, on ``host``."""
    python_version: str | None = None
    package_versions: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the run, or None while it is running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    @property
    def ref(self) -> str:
        """The lineage reference of this run, ``run:<id>``."""
        return f"run:{self.id}"
