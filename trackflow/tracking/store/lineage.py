"""Lineage edges between runs, datasets, artifacts, model versions and deployments, and the
recorded nodes (logged model packages) whose id alone does not describe them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import LineageEdge, LineageNode
from trackflow.tracking.store.convert import to_edge, to_node
from trackflow.tracking.store.orm import LineageEdgeRow, LineageNodeRow
from trackflow.tracking.store.sql import chunks, insert_ignore

__all__ = ["create_edges", "create_nodes", "read_edges", "read_nodes", "read_nodes_by_content_hash"]


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


def create_nodes(session: Session, nodes: Sequence[dict[str, Any]]) -> None:
    """Record nodes (id, kind, label, run_id, content_hash, attributes_json, created_at); an id recorded already is kept."""
    insert_ignore(session, LineageNodeRow, nodes, ["id"])


def read_nodes(session: Session, node_ids: Sequence[str]) -> dict[str, LineageNode]:
    """The recorded nodes among ``node_ids``, by id."""
    found: dict[str, LineageNode] = {}
    for part in chunks(list(node_ids)):
        for row in session.scalars(select(LineageNodeRow).where(LineageNodeRow.id.in_(part))):
            found[row.id] = to_node(row)
    return found


def read_nodes_by_content_hash(session: Session, content_hash: str, *, kind: str) -> list[LineageNode]:
    """Recorded nodes of ``kind`` whose content has this hash, oldest first."""
    statement = (
        select(LineageNodeRow)
        .where(LineageNodeRow.content_hash == content_hash, LineageNodeRow.kind == kind)
        .order_by(LineageNodeRow.created_at)
    )
    return [to_node(row) for row in session.scalars(statement)]
