"""The runs table of an experiment: columns, sorting, filtering and paging, as data for a page or JSON.

Column specs (``?columns=`` in the URL, comma separated): ``params.KEY``, ``metrics.KEY``
(latest value), ``metrics.KEY:min`` / ``metrics.KEY:max`` (over the history), ``tags.KEY``.
The base columns (status, name, start, duration, model) are always shown. ``?sort=`` takes
``status``, ``name``, ``start``, ``duration`` or a param/metric/tag column; ``?order=`` asc
or desc. The filter is :meth:`Client.search_runs`'s grammar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracking import summaries
from trackflow.tracking.client import Client
from trackflow.tracking.entities import Run
from trackflow.tracking.search import ENTITIES, OrderBy, check_search_text, parse_filter
from trackflow.ui.formatting import duration_seconds, iso
from trackflow.ui.registry_links import versions_by_run

__all__ = ["Column", "TableQuery", "parse_columns", "parse_query", "run_rows", "run_table", "child_rows",
           "count_runs", "default_columns", "BASE_SORTS", "MAX_LIMIT", "DEFAULT_LIMIT"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_COLUMNS = 60
DEFAULT_COLUMNS_PER_KIND = 4
BASE_SORTS = {"status": "status", "name": "run_name", "start": "start_time", "duration": None}
_ENTITY_PREFIX = {"params": "params", "param": "params", "metrics": "metrics", "metric": "metrics",
                  "tags": "tags", "tag": "tags"}


@dataclass(frozen=True)
class Column:
    """One chosen column: ``entity`` params/metrics/tags, ``key``, ``agg`` last/min/max (metrics only)."""

    entity: str
    key: str
    agg: str = "last"

    @property
    def spec(self) -> str:
        """The column as written in the URL (``metrics.auc:max``)."""
        return f"{self.entity}.{self.key}" + (f":{self.agg}" if self.agg != "last" else "")

    @property
    def label(self) -> str:
        """The header text."""
        return self.key + (f" ({self.agg})" if self.agg != "last" else "")

    @property
    def sortable(self) -> bool:
        """Latest values sort in the database; history min/max do not."""
        return self.agg == "last"


@dataclass
class TableQuery:
    """A parsed runs-table request."""

    filter: str = ""
    sort: str = "start"
    order: str = "desc"
    columns: list[Column] = field(default_factory=list)
    columns_given: bool = False
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    all_runs: bool = False

    def params(self) -> dict[str, Any]:
        """The query as URL parameters (defaults left out), for links that keep the view."""
        return {
            "filter": self.filter or None,
            "sort": None if self.sort == "start" else self.sort,
            "order": None if self.order == "desc" else self.order,
            "columns": ",".join(c.spec for c in self.columns) if self.columns_given else None,
            "offset": self.offset or None,
            "limit": None if self.limit == DEFAULT_LIMIT else self.limit,
            "all": "1" if self.all_runs else None,
        }


def parse_column(spec: str) -> Column:
    """``params.lr`` / ``metrics.auc`` / ``metrics.auc:min`` / ``tags.team`` -> Column; InvalidInputError otherwise."""
    text = check_search_text(spec.strip(), "column")
    prefix, dot, rest = text.partition(".")
    entity = _ENTITY_PREFIX.get(prefix.lower())
    if not dot or entity is None or not rest:
        raise InvalidInputError(
            f"Unknown column {text!r}: use params.KEY, metrics.KEY, metrics.KEY:min, metrics.KEY:max or tags.KEY."
        )
    agg = "last"
    for suffix in (":min", ":max", ":last"):
        if entity == "metrics" and rest.endswith(suffix) and len(rest) > len(suffix):
            rest, agg = rest[: -len(suffix)], suffix[1:]
            break
    return Column(entity, rest, agg)


def parse_columns(text: str | None) -> list[Column]:
    """The comma-separated column specs of ``?columns=`` (duplicates dropped, order kept)."""
    if not text:
        return []
    specs = [part for part in text.split(",") if part.strip()]
    if len(specs) > MAX_COLUMNS:
        raise InvalidInputError(f"At most {MAX_COLUMNS} columns can be shown, got {len(specs)}.")
    return list(dict.fromkeys(parse_column(part) for part in specs))


def parse_query(
    *, filter: str | None, sort: str | None, order: str | None, columns: str | None,  # noqa: A002
    offset: int | None, limit: int | None, all_runs: bool,
) -> TableQuery:
    """Check and normalise a runs-table request (InvalidInputError names the bad part)."""
    query = TableQuery(filter=(filter or "").strip(), sort=(sort or "start").strip(), order=(order or "desc").lower(),
                       columns=parse_columns(columns), columns_given=bool(columns), offset=offset or 0,
                       limit=limit or DEFAULT_LIMIT, all_runs=all_runs)
    if query.order not in ("asc", "desc"):
        raise InvalidInputError(f"order must be 'asc' or 'desc', not {order!r}.")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {query.limit}.")
    if query.offset < 0:
        raise InvalidInputError(f"offset must be 0 or more, got {query.offset}.")
    _order_by(query)  # checks the sort column
    return query


def _order_by(query: TableQuery) -> tuple[tuple[OrderBy, ...], bool | None]:
    """The database ordering of the query, or (``()``, ascending) when sorting by duration."""
    ascending = query.order == "asc"
    if query.sort in BASE_SORTS:
        key = BASE_SORTS[query.sort]
        return ((), ascending) if key is None else ((OrderBy("attributes", key, ascending),), None)
    column = parse_column(query.sort)
    if not column.sortable:
        raise InvalidInputError(
            f"Cannot sort by {column.spec}: the history's min/max is not indexed. Sort by {column.entity}.{column.key} "
            "(the latest value) instead."
        )
    assert column.entity in ENTITIES
    return (OrderBy(column.entity, column.key, ascending),), None


def default_columns(keys: summaries.RunKeys) -> list[Column]:
    """A few params and metrics used by the experiment's recent runs."""
    return ([Column("params", k) for k in keys.params[:DEFAULT_COLUMNS_PER_KIND]]
            + [Column("metrics", k) for k in keys.metrics[:DEFAULT_COLUMNS_PER_KIND]])


def run_rows(
    client: Client, runs: list[Run], columns: list[Column], *,
    ranges: dict[str, dict[str, summaries.MetricRange]] | None = None, children: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the table for ``runs`` (loaded in one batch): base fields and the chosen columns.

    ``ranges`` / ``children`` are read here when not given (both in one query each for all runs).
    """
    ids = [run.id for run in runs]
    if ranges is None:
        ranged = sorted({c.key for c in columns if c.entity == "metrics" and c.agg != "last"})
        ranges = summaries.metric_ranges(client, ids, ranged)
    if children is None:
        children = summaries.child_counts(client, ids)
    models = versions_by_run(client, ids)
    rows = []
    for run in runs:
        values: dict[str, Any] = {}
        for column in columns:
            if column.entity == "params":
                values[column.spec] = run.params.get(column.key)
            elif column.entity == "tags":
                values[column.spec] = run.tags.get(column.key)
            elif column.agg == "last":
                values[column.spec] = run.metrics.get(column.key)
            else:
                low, high = ranges.get(run.id, {}).get(column.key, (None, None))
                values[column.spec] = low if column.agg == "min" else high
        rows.append({
            "id": run.id, "name": run.name, "status": run.status.value, "kind": run.kind,
            "parent_run_id": run.parent_run_id, "start_time": iso(run.start_time), "end_time": iso(run.end_time),
            "duration_s": duration_seconds(run.start_time, run.end_time), "children": children.get(run.id, 0),
            "values": values, "models": models.get(run.id, []), "url": f"/runs/{run.id}",
        })
    return rows


def run_table(client: Client, experiment_name: str, query: TableQuery) -> dict[str, Any]:
    """One page of the runs table of ``experiment_name`` (NotFoundError if unknown, InvalidInputError for a bad filter).

    ``total`` is not counted here (counting scans every matching run): see :func:`count_runs`.
    """
    expr = parse_filter(query.filter or None)
    order_by, by_duration = _order_by(query)
    ranged = sorted({c.key for c in query.columns if c.entity == "metrics" and c.agg != "last"})
    table = summaries.run_table(
        client, experiment_name, filter_expr=expr, order_by=order_by, order_by_duration=by_duration,
        top_level=not query.all_runs, limit=query.limit, offset=query.offset, range_keys=ranged,
    )
    if not query.columns_given:
        query.columns = default_columns(table.keys)
    rows = run_rows(client, table.runs, query.columns, ranges=table.ranges, children=table.children)
    return {
        "experiment": {"id": table.experiment.id, "name": table.experiment.name},
        "columns": [{"spec": c.spec, "entity": c.entity, "key": c.key, "agg": c.agg, "label": c.label,
                     "sortable": c.sortable} for c in query.columns],
        "filter": query.filter, "sort": query.sort, "order": query.order, "offset": query.offset,
        "limit": query.limit, "has_more": table.has_more,
        "next_offset": query.offset + query.limit if table.has_more else None,
        "all": query.all_runs, "runs": rows,
        "keys": {"params": table.keys.params, "metrics": table.keys.metrics, "tags": table.keys.tags},
    }


def count_runs(client: Client, experiment_name: str, query: TableQuery) -> int:
    """How many runs match the table's filter (flow runs only unless ``all``)."""
    experiment = client.get_experiment_by_name(experiment_name)
    return summaries.count_table_runs(client, experiment.id, filter_expr=parse_filter(query.filter or None),
                                      top_level=not query.all_runs)


def child_rows(client: Client, run_id: str, columns: list[Column]) -> list[dict[str, Any]]:
    """Rows of the runs nested under ``run_id`` (its task runs), oldest first."""
    return run_rows(client, client.get_child_runs(run_id), columns)
