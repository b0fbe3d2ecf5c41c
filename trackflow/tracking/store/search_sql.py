"""Compile the search AST of :mod:`trackflow.tracking.search` to SQLAlchemy Core.

:func:`build_search_statement` returns a ``SELECT runs.id`` in the requested order with
limit/offset; the caller loads the rows. Every key and value is a bound parameter.

Semantics (the same on SQLite and PostgreSQL unless noted):

* ``metrics.k <op> v`` holds when the run's latest value of ``k`` satisfies the
  comparison. A NaN metric is stored as NULL, so it satisfies **no** comparison, not even
  ``!=`` (SQL three-valued logic); neither does a run without that metric.
* ``params.k`` / ``tags.k``: the run must have the key; ``!=`` and ``NOT IN`` match runs
  whose value differs, not runs lacking the key (as in MLflow). Nullable attributes
  (``end_time``, ``parent_run_id`` ...) likewise never match when NULL.
* ``LIKE`` is SQL ``LIKE`` (``%`` and ``_`` wildcards). It is case-sensitive on PostgreSQL
  but case-insensitive for ASCII letters on SQLite (SQLite's default). ``ILIKE`` is
  case-insensitive everywhere (``lower(x) LIKE lower(p)`` on SQLite, ASCII only).
* ``experiment`` compares the experiment's name.
* Ordering: missing values and NaN metrics sort last in both directions; ties are broken
  by ``start_time DESC, id`` so that paging is deterministic. Default: newest first.

Performance: when a metric/param/tag in the order-by is also constrained by a top-level
``and`` term of the filter, it is INNER JOINed with that condition (no NULLs are possible,
so no NULLS-LAST term is needed) and SQLite can walk ``ix_latest_metrics_key_value`` in
order and stop after ``limit`` rows. Other terms become correlated ``EXISTS`` probes on
the ``(run_id, key)`` primary keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import QueryableAttribute, aliased

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.search import MAX_PAGE_OFFSET, And, Comparison, Expr, Or, OrderBy, check_filter, check_order_by
from trackflow.tracking.store.orm import ExperimentRow, LatestMetricRow, ParamRow, RunRow, TagRow

__all__ = ["build_search_statement", "compile_filter"]

_KEYED_TABLES: dict[str, Any] = {
    "metrics": LatestMetricRow,
    "params": ParamRow,
    "tags": TagRow,
}

_RUN_COLUMNS: dict[str, QueryableAttribute[Any]] = {
    "status": RunRow.status,
    "run_name": RunRow.name,
    "start_time": RunRow.start_time,
    "end_time": RunRow.end_time,
    "run_id": RunRow.id,
    "parent_run_id": RunRow.parent_run_id,
    "kind": RunRow.kind,
    "flow_run_id": RunRow.flow_run_id,
    "task_run_id": RunRow.task_run_id,
}
_NULLABLE_ATTRIBUTES = frozenset({"end_time", "parent_run_id", "flow_run_id", "task_run_id"})


def _compare(column: QueryableAttribute[Any], op: str, value: object) -> ColumnElement[bool]:
    """``column <op> :value`` with the value bound."""
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op in ("IN", "NOT IN"):
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        return column.in_(values) if op == "IN" else column.not_in(values)
    raise InvalidInputError(f"Unsupported search operator {op!r}.")


def _keyed_table(entity: str) -> Any:
    table = _KEYED_TABLES.get(entity)
    if table is None:
        raise InvalidInputError(
            f"Unknown search entity {entity!r}: expected metrics, params, tags or attributes."
        )
    return table


def _compile_comparison(comparison: Comparison) -> ColumnElement[bool]:
    entity, key, op, value = comparison.entity, comparison.key, comparison.op, comparison.value
    if entity == "attributes":
        if key == "experiment":
            experiments = aliased(ExperimentRow)
            names = select(experiments.id).where(_compare(experiments.name, op, value))
            return RunRow.experiment_id.in_(names.scalar_subquery())
        column = _RUN_COLUMNS.get(key)
        if column is None:
            raise InvalidInputError(f"Unknown run attribute {key!r} in a search filter.")
        return _compare(column, op, value)
    row = _keyed_table(entity)  # no alias needed inside EXISTS (and aliased() is slow: ~1 ms per term)
    return (
        exists()
        .where(row.run_id == RunRow.id, row.key == key, _compare(row.value, op, value))
        .correlate(RunRow)
    )


def compile_filter(expr: Expr) -> ColumnElement[bool]:
    """Compile a filter AST into a boolean SQL expression over ``runs``."""
    if isinstance(expr, Comparison):
        return _compile_comparison(expr)
    if isinstance(expr, And):
        return and_(*(compile_filter(item) for item in expr.items))
    if isinstance(expr, Or):
        if not expr.items:
            return false()
        return or_(*(compile_filter(item) for item in expr.items))
    raise InvalidInputError(f"Not a search filter expression: {expr!r}.")


def _conjuncts(expr: Expr | None) -> list[Expr]:
    if expr is None:
        return []
    if isinstance(expr, And):
        return [part for item in expr.items for part in _conjuncts(item)]
    return [expr]


def _check_page(limit: int, offset: int) -> None:
    for name, number in (("limit", limit), ("offset", offset)):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_PAGE_OFFSET:
            raise InvalidInputError(f"{name} must be an integer from 0 to {MAX_PAGE_OFFSET}, not {number!r}.")


def build_search_statement(
    *,
    experiment_ids: Sequence[str] | None,
    filter_expr: Expr | None,
    order_by: Sequence[OrderBy],
    limit: int,
    offset: int,
) -> Select[Any]:
    """Build ``SELECT runs.id`` matching the filter, ordered, with ``limit``/``offset``.

    ``experiment_ids=None`` searches every experiment; an empty list matches nothing.
    The filter and order-by are bounds- and range-checked first
    (:func:`~trackflow.tracking.search.check_filter`), so no value reaches the driver that
    it cannot encode: such input raises InvalidInputError, never a driver error.
    """
    _check_page(limit, offset)
    check_filter(filter_expr)
    check_order_by(order_by)
    statement = select(RunRow.id).select_from(RunRow)
    conditions: list[ColumnElement[bool]] = []
    if experiment_ids is not None:
        ids = [str(experiment_id) for experiment_id in experiment_ids]
        if len(ids) == 1:
            conditions.append(RunRow.experiment_id == ids[0])
        else:
            conditions.append(RunRow.experiment_id.in_(ids))

    remaining = _conjuncts(filter_expr)
    ordering: list[ColumnElement[Any]] = []
    joined: dict[tuple[str, str], tuple[Any, bool]] = {}
    for item in order_by:
        if item.entity == "attributes":
            column, nullable = _attribute_sort_column(item.key, joined)
            if column is None:  # the experiment name needs a join
                experiments = aliased(ExperimentRow)
                statement = statement.join(experiments, experiments.id == RunRow.experiment_id)
                column, nullable = experiments.name, False
                joined[("attributes", "experiment")] = (column, False)
        elif (item.entity, item.key) in joined:
            column, nullable = joined[(item.entity, item.key)]
        else:
            row = aliased(_keyed_table(item.entity))
            on = [row.run_id == RunRow.id, row.key == item.key]
            matching = [
                part
                for part in remaining
                if isinstance(part, Comparison)
                and (part.entity, part.key) == (item.entity, item.key)
            ]
            if matching:
                # The filter already requires this key with a non-NULL value: INNER JOIN and
                # filter on the join, so the index on (key, value) can drive the query.
                remaining = [part for part in remaining if part not in matching]
                on.extend(_compare(row.value, part.op, part.value) for part in matching)
                statement = statement.join(row, and_(*on))
                nullable = False
            else:
                statement = statement.outerjoin(row, and_(*on))
                nullable = True
            column = row.value
            joined[(item.entity, item.key)] = (column, nullable)
        if nullable:
            ordering.append(column.is_(None))
        ordering.append(column.asc() if item.ascending else column.desc())

    conditions.extend(compile_filter(part) for part in remaining)
    if conditions:
        statement = statement.where(*conditions)
    ordering.extend([RunRow.start_time.desc(), RunRow.id.asc()])
    return statement.order_by(*ordering).limit(limit).offset(offset)


def _attribute_sort_column(
    key: str, joined: dict[tuple[str, str], tuple[Any, bool]]
) -> tuple[Any, bool]:
    """The column to sort by for an attribute, and whether it can be NULL.

    Returns ``(None, False)`` for ``experiment`` the first time (the caller joins it).
    """
    if key == "experiment":
        return joined.get(("attributes", "experiment"), (None, False))
    column = _RUN_COLUMNS.get(key)
    if column is None:
        raise InvalidInputError(f"Unknown run attribute {key!r} in order_by.")
    return column, key in _NULLABLE_ATTRIBUTES
