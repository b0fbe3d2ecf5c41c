"""Lineage edges between runs, datasets, artifacts, model versions and deployments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import LineageEdge
from trackflow.tracking.store.convert import to_edge
from trackflow.tracking.store.orm import LineageEdgeRow
from trackflow.tracking.store.sql import chunks, insert_ignore

__all__ = ["create_edges", "read_edges"]


def create_edges(session: Session, edges: Sequence[dict[str, Any]]) -> None:
    """Record edges (source, target, relation, run_id, name, created_at); duplicates are kept once."""
    insert_ignore(session, LineageEdgeRow, edges, ["source", "target", "relation"])


def read_edges(session: Session, nodes: Sequence[str], *, outgoing: bool) -> list[LineageEdge]:
    """Edges leaving (``outgoing``) or entering the given nodes."""
    column = LineageEdgeRow.source if outgoing else LineageEdgeRow.target
    found: list[LineageEdge] = []
    for part in chunks(list(nodes)):
        statement = select(LineageEdgeRow).where(column.in_(part)).order_by(LineageEdgeRow.id)
        found.extend(to_edge(r) for r in session.scalars(statement))
    return found
