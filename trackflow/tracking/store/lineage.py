"""Lineage edges between runs, datasets, artifacts, model versions and deployments, and the
recorded nodes (logged model packages) whose id alone does not describe them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from trackflow.tracking.entities import LineageEdge, LineageNode
from trackflow.tracking.store.convert import to_edge, to_node
from trackflow.tracking.store.orm import LineageEdgeRow, LineageNodeRow
from trackflow.tracking.store.sql import SessionOps, chunks, insert_ignore

__all__ = ["LineageOps"]


class LineageOps(SessionOps):
    """The lineage operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def create_edges(self, edges: Sequence[Mapping[str, Any]]) -> None:
        insert_ignore(self.session, LineageEdgeRow, [dict(e) for e in edges], ["source", "target", "relation"])

    def read_edges(self, nodes: Sequence[str], *, outgoing: bool) -> list[LineageEdge]:
        column = LineageEdgeRow.source if outgoing else LineageEdgeRow.target
        found: list[LineageEdge] = []
        for part in chunks(list(nodes)):
            statement = select(LineageEdgeRow).where(column.in_(part)).order_by(LineageEdgeRow.id)
            found.extend(to_edge(r) for r in self.session.scalars(statement))
        return found

    def create_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> None:
        insert_ignore(self.session, LineageNodeRow, [dict(n) for n in nodes], ["id"])

    def read_nodes(self, node_ids: Sequence[str]) -> dict[str, LineageNode]:
        found: dict[str, LineageNode] = {}
        for part in chunks(list(node_ids)):
            for row in self.session.scalars(select(LineageNodeRow).where(LineageNodeRow.id.in_(part))):
                found[row.id] = to_node(row)
        return found

    def read_nodes_by_content_hash(self, content_hash: str, *, kind: str) -> list[LineageNode]:
        statement = (
            select(LineageNodeRow)
            .where(LineageNodeRow.content_hash == content_hash, LineageNodeRow.kind == kind)
            .order_by(LineageNodeRow.created_at)
        )
        return [to_node(row) for row in self.session.scalars(statement)]
