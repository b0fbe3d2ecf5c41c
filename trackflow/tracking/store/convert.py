"""Turn ORM rows into frozen entities before they leave the store."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from trackflow.tracking.entities import (
    Artifact,
    Dataset,
    Experiment,
    LineageEdge,
    LineageNode,
    Metric,
    Note,
    NoteKind,
    Run,
    RunStatus,
    ms_to_datetime,
)
from trackflow.tracking.store import orm

__all__ = [
    "to_node",
    "metric_value",
    "to_experiment",
    "to_run",
    "to_metric",
    "to_note",
    "to_artifact",
    "to_dataset",
    "to_edge",
]


@lru_cache(maxsize=256)
def _versions(text: str) -> dict[str, str]:
    return json.loads(text)  # type: ignore[no-any-return]


def metric_value(value: float | None, is_nan: bool) -> float:
    """Undo the NaN encoding: SQLite cannot store NaN, so it is kept as NULL + flag."""
    return float("nan") if is_nan or value is None else float(value)


def to_experiment(row: orm.ExperimentRow) -> Experiment:
    return Experiment(id=row.id, name=row.name, created_at=ms_to_datetime(row.created_at))  # type: ignore[arg-type]


def to_run(
    row: Any,
    *,
    experiment_name: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> Run:
    return Run(
        id=row.id,
        experiment_id=row.experiment_id,
        experiment_name=experiment_name,
        name=row.name,
        status=RunStatus(row.status),
        start_time=ms_to_datetime(row.start_time),  # type: ignore[arg-type]
        end_time=ms_to_datetime(row.end_time),
        parent_run_id=row.parent_run_id,
        kind=row.kind,
        error=row.error,
        attempts=row.attempts,
        flow_run_id=row.flow_run_id,
        task_run_id=row.task_run_id,
        prefect_name=row.prefect_name,
        source_commit=row.source_commit,
        source_dirty=row.source_dirty,
        entrypoint=row.entrypoint,
        user=row.user,
        host=row.host,
        pid=row.pid,
        python_version=row.python_version,
        package_versions=dict(_versions(row.package_versions)) if row.package_versions else {},
        params=params,
        metrics=metrics,
        tags=tags,
    )


def to_metric(row: Any) -> Metric:
    return Metric(
        key=row.key,
        value=metric_value(row.value, row.is_nan),
        step=row.step,
        timestamp=ms_to_datetime(row.timestamp),  # type: ignore[arg-type]
    )


def to_note(row: orm.NoteRow) -> Note:
    return Note(
        id=row.id,
        run_id=row.run_id,
        kind=NoteKind(row.kind),
        text=row.text,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
    )


def to_artifact(row: orm.ArtifactRow) -> Artifact:
    return Artifact(
        run_id=row.run_id,
        path=row.path,
        uri=row.uri,
        sha256=row.sha256,
        size=row.size,
        media_type=row.media_type,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
    )


def to_dataset(row: orm.DatasetRow) -> Dataset:
    return Dataset(
        id=row.id,
        fingerprint=row.fingerprint,
        name=row.name,
        kind=row.kind,
        schema=json.loads(row.schema_json),
        num_rows=row.num_rows,
        num_columns=row.num_columns,
        profile=json.loads(row.profile_json),
        source=row.source,
        size_bytes=row.size_bytes,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
    )


def to_edge(row: orm.LineageEdgeRow) -> LineageEdge:
    return LineageEdge(
        source=row.source,
        target=row.target,
        relation=row.relation,
        run_id=row.run_id,
        name=row.name,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
    )


def to_node(row: orm.LineageNodeRow) -> LineageNode:
    attributes = json.loads(row.attributes_json) if row.attributes_json else {}
    return LineageNode(id=row.id, kind=row.kind, label=row.label, attributes=attributes)
