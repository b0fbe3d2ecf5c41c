"""Run a search page, in index-driven steps when it is ordered by one metric, param or tag.

One statement ordered by ``params.max_depth`` sorts every matching run before it can
return the first 100: with ``start_time DESC, id`` breaking ties, even an index on
``(key, value)`` does not help when a value is shared by a tenth of the runs (0.66 s at
100,000 runs, 8.5 s at 1,000,000 on SQLite). :func:`search_page` answers the same page,
the same rows in the same order, in steps that each stop early. With
``page = offset + limit`` and the order-by one key with a ``(key, value)`` index
(``ix_latest_metrics_key_value`` everywhere; ``ix_params_key_value`` and
``ix_tags_key_value`` on SQLite, migration 0008):

1. **Head**: the value, start time and id of the first ``page`` matching runs that have
   the key, walking the index in order with the filter probed per row and no tie-break
   sorted (:func:`~trackflow.tracking.store.search_sql.compile_head_statement`).
2. If the head is a whole page, its last value is the **boundary**. The head's runs with
   a better value come first, put in the full order here (value, then newest first, then
   id; a float or a UTF-8 string compares in Python as in SQL).
3. Then the runs **tied** at the boundary, newest first: through the index when few rows
   hold that value (:data:`SMALL_GROUP`), else by walking the runs newest first and
   probing each (a value may be shared by a tenth of all runs).
4. A shorter head holds every matching run with the key: then come the runs without it
   (or with NaN), which sort last in both directions.

Everything else (no order-by, several order-by items, an attribute, PostgreSQL without a
value index on params/tags, pages deeper than :data:`STEPPED_PAGE_LIMIT`) is one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from trackflow.tracking.search import And, Comparison, Expr, OrderBy
from trackflow.tracking.store.orm import RunRow
from trackflow.tracking.store.search_sql import (
    KEYED_TABLES,
    check_search,
    compile_head_statement,
    compile_search_statement,
    conjuncts,
)

__all__ = ["SMALL_GROUP", "STEPPED_PAGE_LIMIT", "search_page"]

SMALL_GROUP = 2000
"""Tied rows sorted through the ``(key, value)`` index at most; a larger group is walked in
the runs' own order (newest first) instead."""

STEPPED_PAGE_LIMIT = 20_000
"""Deepest ``offset + limit`` paged in steps (the head is held in memory)."""

_VALUE_INDEXED_EVERYWHERE = frozenset({"metrics"})
"""Entities whose ``(key, value)`` index exists on every database; params and tags have one
on SQLite only (PostgreSQL's b-tree cannot hold an 8,000-character value)."""


def search_page(
    session: Session,
    *,
    experiment_ids: Sequence[str] | None,
    filter_expr: Expr | None,
    order_by: Sequence[OrderBy],
    limit: int,
    offset: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[str]:
    """The ids of one page of runs matching ``filter_expr`` (and the caller's ``where``
    conditions on ``runs``), in the order of ``order_by`` then ``start_time DESC, id``.

    The same answer as :func:`~trackflow.tracking.store.search_sql.build_search_statement`
    (whose checks it applies), computed in steps when that is faster.
    """
    check_search(filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset)
    page = offset + limit
    if len(order_by) != 1 or not 0 < page <= STEPPED_PAGE_LIMIT or not _has_value_index(session, order_by[0].entity):
        return list(session.scalars(compile_search_statement(
            experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset,
            where=where,
        )))
    item = order_by[0]
    head = session.execute(compile_head_statement(
        experiment_ids=experiment_ids, filter_expr=filter_expr, item=item, limit=page, where=where,
    )).all()
    steps = _Steps(session, experiment_ids=experiment_ids, filter_expr=filter_expr, item=item, where=where)
    if len(head) < page:
        ids = _in_order(head, item) + steps.without_key(page - len(head))
    else:
        boundary = head[-1][0]
        ids = _in_order([row for row in head if row[0] != boundary], item)
        ids += steps.tied(boundary, page - len(ids))
    return ids[offset:page]


def _in_order(rows: Sequence[Any], item: OrderBy) -> list[str]:
    """``(value, start_time, id)`` rows in the search's order: value, newest first, id."""
    by_tie_break = sorted(rows, key=lambda row: (-row[1], row[2]))
    return [row[2] for row in sorted(by_tie_break, key=lambda row: row[0], reverse=not item.ascending)]


class _Steps:
    """The statements after the head of one keyed search."""

    def __init__(
        self, session: Session, *, experiment_ids: Sequence[str] | None, filter_expr: Expr | None, item: OrderBy,
        where: Sequence[ColumnElement[bool]],
    ) -> None:
        self.session = session
        self.experiment_ids = experiment_ids
        self.filter_expr = filter_expr
        self.item = item
        self.where = where

    def tied(self, value: object, limit: int) -> list[str]:
        """The first ``limit`` matching runs whose value is ``value``, newest first.

        The filter's top-level terms on the key are left out: the boundary run satisfied
        them, so every tied run does (and SQLite would otherwise walk a range of the index
        rather than seek the value)."""
        item = self.item
        others = [
            part for part in conjuncts(self.filter_expr)
            if not (isinstance(part, Comparison) and (part.entity, part.key) == (item.entity, item.key))
        ]
        tied = Comparison(item.entity, item.key, "=", value)  # type: ignore[arg-type]  # a stored str or float
        small = self._group_size(value) <= SMALL_GROUP
        return list(self.session.scalars(compile_search_statement(
            experiment_ids=self.experiment_ids, filter_expr=And((tied, *others)) if others else tied,
            order_by=[item] if small else [], limit=limit, offset=0, where=self.where,
        )))

    def without_key(self, limit: int) -> list[str]:
        """The first ``limit`` matching runs without a value of the key (they sort last), newest first."""
        if limit <= 0:
            return []
        row = KEYED_TABLES[self.item.entity]
        lacking = ~exists().where(row.run_id == RunRow.id, row.key == self.item.key, row.value.is_not(None))
        return list(self.session.scalars(compile_search_statement(
            experiment_ids=self.experiment_ids, filter_expr=self.filter_expr, order_by=[], limit=limit, offset=0,
            where=[*self.where, lacking],
        )))

    def _group_size(self, value: object) -> int:
        """How many rows (of any run) hold ``value`` for the key, counted up to ``SMALL_GROUP + 1``."""
        row = KEYED_TABLES[self.item.entity]
        capped = select(row.run_id).where(row.key == self.item.key, row.value == value).limit(SMALL_GROUP + 1)
        return int(self.session.scalar(select(func.count()).select_from(capped.subquery())) or 0)


def _has_value_index(session: Session, entity: str) -> bool:
    if entity not in KEYED_TABLES:
        return False
    return entity in _VALUE_INDEXED_EVERYWHERE or session.get_bind().dialect.name == "sqlite"
