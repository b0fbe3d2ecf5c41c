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
so no NULLS-LAST term is needed) and SQLite can walk the ``(key, value)`` index in order
(``ix_latest_metrics_key_value``; ``ix_params_key_value`` / ``ix_tags_key_value`` on SQLite).
Other terms become correlated ``EXISTS`` probes on the ``(run_id, key)`` primary keys. A
search ordered by one metric, param or tag is paged in index-driven steps (ties included)
by :mod:`trackflow.tracking.store.keyed_search`, with :func:`compile_head_statement`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import QueryableAttribute, aliased

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.search import (
    MAX_PAGE_OFFSET,
    And,
    Comparison,
    Expr,
    Or,
    OrderBy,
    check_filter,
    check_order_by,
)
from trackflow.tracking.store.orm import ExperimentRow, LatestMetricRow, ParamRow, RunRow, TagRow

__all__ = [
    "HAS_VALUE",
    "KEYED_TABLES",
    "build_search_statement",
    "check_search",
    "compile_head_statement",
    "compile_filter",
    "compile_search_statement",
    "conjuncts",
    "experiment_condition",
]

KEYED_TABLES: dict[str, Any] = {
    "metrics": LatestMetricRow,
    "params": ParamRow,
    "tags": TagRow,
}
"""The table of each keyed search entity (a metric's latest value, a param, a tag)."""

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


HAS_VALUE = "HAS VALUE"
"""An operator the filter language does not have (built in code, never parsed): the key is
there with a value, i.e. for a metric one that is not NaN (stored as NULL). ``value`` is
ignored. It INNER JOINs an ordered key like any comparison on it."""


def _compare(column: QueryableAttribute[Any], op: str, value: object) -> ColumnElement[bool]:
    """``column <op> :value`` with the value bound."""
    if op == HAS_VALUE:
        return column.is_not(None)
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
    table = KEYED_TABLES.get(entity)
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


def conjuncts(expr: Expr | None) -> list[Expr]:
    """The top-level ``and`` terms of a filter (one term if it is not an ``and``; none for None)."""
    if expr is None:
        return []
    if isinstance(expr, And):
        return [part for item in expr.items for part in conjuncts(item)]
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
    check_search(filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset)
    return compile_search_statement(
        experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset
    )


def check_search(*, filter_expr: Expr | None, order_by: Sequence[OrderBy], limit: int, offset: int) -> None:
    """Raise InvalidInputError for a page, filter or order-by :func:`build_search_statement` refuses."""
    _check_page(limit, offset)
    check_filter(filter_expr)
    check_order_by(order_by)


def experiment_condition(experiment_ids: Sequence[str] | None) -> ColumnElement[bool] | None:
    """``runs.experiment_id`` in ``experiment_ids`` (None: every experiment, no condition)."""
    if experiment_ids is None:
        return None
    ids = [str(experiment_id) for experiment_id in experiment_ids]
    return RunRow.experiment_id == ids[0] if len(ids) == 1 else RunRow.experiment_id.in_(ids)


def compile_search_statement(
    *,
    experiment_ids: Sequence[str] | None,
    filter_expr: Expr | None,
    order_by: Sequence[OrderBy],
    limit: int,
    offset: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> Select[Any]:
    """:func:`build_search_statement` for input already checked (:func:`check_search`), e.g.
    a checked filter with comparisons added on values read from the store; ``where`` adds
    the caller's own conditions on ``runs``."""
    ordered = _OrderedSelect(filter_expr, order_by)
    conditions = _conditions(experiment_ids, ordered.remaining, where)
    statement = ordered.statement.where(*conditions) if conditions else ordered.statement
    ordering = [*ordered.ordering, RunRow.start_time.desc(), RunRow.id.asc()]
    return statement.order_by(*ordering).limit(limit).offset(offset)


def compile_head_statement(
    *,
    experiment_ids: Sequence[str] | None,
    filter_expr: Expr | None,
    item: OrderBy,
    limit: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> Select[Any]:
    """``SELECT value, runs.start_time, runs.id`` of the first ``limit`` matching runs that
    have the keyed ``item`` (a metric, param or tag; not NaN), in the order of its value only.

    No tie-break is sorted, so with a ``(key, value)`` index SQLite walks the index and
    stops after ``limit`` rows: :mod:`trackflow.tracking.store.keyed_search` pages with it.
    """
    has_value = Comparison(item.entity, item.key, HAS_VALUE, "")
    ordered = _OrderedSelect(has_value if filter_expr is None else And((filter_expr, has_value)), [item])
    conditions = _conditions(experiment_ids, ordered.remaining, where)
    statement = ordered.statement.with_only_columns(ordered.columns[0], RunRow.start_time, RunRow.id)
    statement = statement.where(*conditions) if conditions else statement
    return statement.order_by(*ordered.ordering).limit(limit)


def _conditions(
    experiment_ids: Sequence[str] | None, remaining: Sequence[Expr], where: Sequence[ColumnElement[bool]]
) -> list[ColumnElement[bool]]:
    in_experiments = experiment_condition(experiment_ids)
    conditions = [] if in_experiments is None else [in_experiments]
    conditions.extend(compile_filter(part) for part in remaining)
    conditions.extend(where)
    return conditions


class _OrderedSelect:
    """``SELECT runs.id`` joined to what ``order_by`` sorts on, with the sort terms.

    A metric/param/tag sorted on is OUTER JOINed (NULLs last), unless a top-level ``and``
    term of the filter constrains it: then it is INNER JOINed with that condition (no
    NULLs, so no NULLS-LAST term) and the term leaves :attr:`remaining`, so the index on
    ``(key, value)`` can drive the query.
    """

    def __init__(self, filter_expr: Expr | None, order_by: Sequence[OrderBy]) -> None:
        self.statement: Select[Any] = select(RunRow.id).select_from(RunRow)
        self.remaining: list[Expr] = conjuncts(filter_expr)
        self.ordering: list[ColumnElement[Any]] = []
        self.columns: list[Any] = []
        joined: dict[tuple[str, str], tuple[Any, bool]] = {}
        for item in order_by:
            if (item.entity, item.key) in joined:
                column, nullable = joined[(item.entity, item.key)]
            elif item.entity == "attributes":
                column, nullable = self._attribute(item.key)
            else:
                column, nullable = self._keyed(item)
            joined[(item.entity, item.key)] = (column, nullable)
            self.columns.append(column)
            if nullable:
                self.ordering.append(column.is_(None))
            self.ordering.append(column.asc() if item.ascending else column.desc())

    def _attribute(self, key: str) -> tuple[Any, bool]:
        if key == "experiment":  # the experiment's name needs a join
            experiments = aliased(ExperimentRow)
            self.statement = self.statement.join(experiments, experiments.id == RunRow.experiment_id)
            return experiments.name, False
        column = _RUN_COLUMNS.get(key)
        if column is None:
            raise InvalidInputError(f"Unknown run attribute {key!r} in order_by.")
        return column, key in _NULLABLE_ATTRIBUTES

    def _keyed(self, item: OrderBy) -> tuple[Any, bool]:
        row = aliased(_keyed_table(item.entity))
        on = [row.run_id == RunRow.id, row.key == item.key]
        matching = [
            part
            for part in self.remaining
            if isinstance(part, Comparison) and (part.entity, part.key) == (item.entity, item.key)
        ]
        if not matching:
            self.statement = self.statement.outerjoin(row, and_(*on))
            return row.value, True
        self.remaining = [part for part in self.remaining if part not in matching]
        on.extend(_compare(row.value, part.op, part.value) for part in matching)
        self.statement = self.statement.join(row, and_(*on))
        return row.value, False


