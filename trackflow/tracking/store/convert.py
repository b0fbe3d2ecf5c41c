"""Turn ORM rows into frozen entities before they leave the store."""

from __future__ import annotations

import json
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
    ms_to_datetime,
)
from trackflow.tracking.store import orm
from trackflow.tracking.store.rows import metric_value, to_run

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


def to_experiment(row: orm.ExperimentRow) -> Experiment:
    return Experiment(id=row.id, name=row.name, created_at=ms_to_datetime(row.created_at))  # type: ignore[arg-type]


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
