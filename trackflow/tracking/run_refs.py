"""Find a run, or an experiment, by any reference a user has at hand.

:func:`resolve_run_ref` accepts, in this order:

1. a full run id (32 hex characters, dashes allowed; ``run:`` in front is allowed);
2. a Prefect flow-run or task-run id (a UUID with or without dashes: what the Prefect UI
   shows), read as the run of that flow run (its top-level run) or task run;
3. a unique prefix of a run id, at least :data:`MIN_PREFIX` hex characters (what
   ``trackflow runs list`` prints);
4. a run name (a tracked flow's run is named after its Prefect flow run).

A reference that matches several runs raises :class:`~trackflow.exceptions.InvalidInputError`
listing them, newest first; one that matches none raises
:class:`~trackflow.exceptions.NotFoundError` with the closest names when there are some.
:func:`resolve_experiment` does the same for experiment names (``did you mean``),
:func:`find_dataset` for dataset fingerprint prefixes; :func:`list_runs` lists runs with
the choices the command line offers (top-level only, deleted runs or not).
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.entities import Experiment, Run
from trackflow.tracking.search import parse_filter, parse_order_by

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = [
    "MIN_PREFIX", "closest", "did_you_mean", "find_dataset", "list_runs", "resolve_experiment", "resolve_experiments",
    "resolve_run_ref", "search_top_level_runs",
]  # fmt: skip

MIN_PREFIX = 6
"""Fewest hex characters of a run id accepted as a prefix."""
_SHOWN = 5  # candidates listed in an ambiguity error
_SCANNED = 500  # recent runs whose names are compared for a "did you mean"
_HEX = re.compile(r"[0-9a-f]+")
_FULL_ID = re.compile(r"[0-9a-f]{32}")
_MAX_RESULTS = 50_000
_RUNS_HINT = "List runs with `trackflow runs list` (`--all` includes task runs)."


def closest(value: str, candidates: Iterable[str], *, limit: int = 3) -> list[str]:
    """The ``candidates`` most like ``value`` (difflib's ratio >= 0.6), best first."""
    return difflib.get_close_matches(value, list(dict.fromkeys(candidates)), n=limit, cutoff=0.6)


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """`` did you mean 'x'?`` (or ``'x' or 'y'``) for the closest candidates; ``""`` when none is close."""
    matches = closest(value, candidates)
    if not matches:
        return ""
    return f"; did you mean {' or '.join(repr(m) for m in matches)}?"


def resolve_experiment(client: Client, name: str) -> Experiment:
    """The experiment called ``name``; NotFoundError ("did you mean ...") when there is none."""
    experiments = client.list_experiments()
    for experiment in experiments:
        if experiment.name == name:
            return experiment
    names = [e.name for e in experiments]
    raise NotFoundError(
        f"No experiment {name!r}{did_you_mean(name, names)}",
        hint=f"Known experiments: {', '.join(names)}." if names else "No experiment exists yet: track a run first.",
    )


def resolve_experiments(client: Client, names: Sequence[str]) -> list[Experiment]:
    """Each named experiment (see :func:`resolve_experiment`), read with one query."""
    experiments = client.list_experiments()
    by_name = {e.name: e for e in experiments}
    for name in names:
        if name not in by_name:
            known = list(by_name)
            raise NotFoundError(
                f"No experiment {name!r}{did_you_mean(name, known)}",
                hint=f"Known experiments: {', '.join(known)}." if known else "No experiment exists yet: track a run first.",
            )
    return [by_name[n] for n in names]


def resolve_run_ref(client: Client, ref: str) -> Run:
    """The one run ``ref`` names: id, Prefect flow/task-run id, unique id prefix or run name.

    Raises NotFoundError when nothing matches and InvalidInputError when several runs do
    (the candidates are listed, newest first).
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError("A run reference is empty.", hint=_RUNS_HINT)
    text = ref.strip()
    if text.startswith("run:"):
        text = text[4:]
    compact = text.replace("-", "").lower()
    if _FULL_ID.fullmatch(compact):
        found = client.get_runs([compact])
        if found:
            return found[0]
        try:
            return client.get_run_by_prefect_id(str(uuid.UUID(compact)))
        except NotFoundError:
            raise NotFoundError(
                f"Run {compact} does not exist: no run, and no run of a Prefect flow or task run, has this id.",
                hint=_RUNS_HINT,
            ) from None
    elif len(compact) >= MIN_PREFIX and _HEX.fullmatch(compact) and len(compact) == len(text.replace("-", "")):
        by_prefix = _search(client, f"run_id LIKE '{compact}%'")
        if len(by_prefix) == 1:
            return by_prefix[0]
        if by_prefix:
            raise _ambiguous(text, by_prefix, "id prefix", "Give more characters of the id.")
    by_name = _search(client, f"run_name = {_quote(text)}")
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise _ambiguous(text, by_name, "name", "Use the run id instead of the name.")
    recent = _search(client, None, _SCANNED)
    suggestion = did_you_mean(text, [r.name for r in recent if r.name])
    raise NotFoundError(f"No run {text!r} (not a run id, id prefix, Prefect run id or run name){suggestion}", hint=_RUNS_HINT)


def _search(client: Client, filter_text: str | None, limit: int = _SHOWN + 1) -> list[Run]:
    """Runs matching ``filter_text``, newest first, deleted ones included (they can be restored)."""
    return list_runs(client, None, filter_text, max_results=limit, top_level=False, deleted=None)


def _quote(text: str) -> str:
    """``text`` as a quoted string of the search grammar."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _ambiguous(ref: str, runs: Sequence[Run], what: str, hint: str) -> InvalidInputError:
    shown = "; ".join(
        f"{r.id[:12]} {r.name or '-'} ({r.experiment_name}, {r.kind}, started {r.start_time:%Y-%m-%d %H:%M:%S})"
        for r in runs[:_SHOWN]
    )
    more = " and more" if len(runs) > _SHOWN else ""
    return InvalidInputError(f"Run {what} {ref!r} matches several runs (newest first): {shown}{more}.", hint=hint)


def list_runs(
    client: Client,
    experiments: Sequence[str] | None = None,
    filter_text: str | None = None,
    *,
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
    top_level: bool = True,
    deleted: bool | None = False,
) -> list[Run]:
    """Runs as ``client.search_runs`` finds them, with two more choices: ``top_level`` keeps
    runs without a parent (no task runs, no nested runs); ``deleted`` keeps only live runs
    (False, the default), only deleted ones (True) or both (None).

    ``experiments`` are names; an unknown name raises NotFoundError ("did you mean ...").
    """
    if not isinstance(max_results, int) or not 0 < max_results <= _MAX_RESULTS:
        raise InvalidInputError(f"max_results must be between 1 and {_MAX_RESULTS}, got {max_results!r}.")
    ids = [e.id for e in resolve_experiments(client, list(experiments))] if experiments else None
    expr = parse_filter(filter_text)
    orders = parse_order_by(list(order_by or []))
    client.flush()
    with client._store.transaction(write=False) as tx:  # noqa: SLF001 - a Client mixin's helper
        run_ids = tx.search_listed_run_ids(
            experiment_ids=ids, filter_expr=expr, order_by=orders, top_level=top_level, deleted=deleted,
            limit=max_results, offset=0,
        )
        return tx.read_runs(run_ids)


def search_top_level_runs(
    client: Client,
    experiments: Sequence[str] | None = None,
    filter_text: str | None = None,
    *,
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
) -> list[Run]:
    """Live runs without a parent (see :func:`list_runs`)."""
    return list_runs(client, experiments, filter_text, order_by=order_by, max_results=max_results)


def find_dataset(client: Client, fingerprint_prefix: str) -> str:
    """The full fingerprint of the one dataset whose fingerprint starts with ``fingerprint_prefix``
    (``sha256:79cfa908b9a0`` as ``runs show`` prints it, or a whole fingerprint).

    NotFoundError when no dataset matches, InvalidInputError listing them when several do.
    """
    prefix = fingerprint_prefix.strip()
    if not prefix:
        raise InvalidInputError("A dataset reference needs a fingerprint: dataset:sha256:<hex>.")
    client.flush()
    with client._store.transaction(write=False) as tx:  # noqa: SLF001 - a Client mixin's helper
        found = tx.read_fingerprints_by_prefix(prefix, limit=6)
    if prefix in found:
        return prefix
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(
            f"No dataset with fingerprint {prefix!r}.",
            hint="`trackflow runs show RUN` lists the datasets of a run with their fingerprints.",
        )
    shown = ", ".join(found[:5]) + (" and more" if len(found) > 5 else "")
    raise InvalidInputError(f"Dataset prefix {prefix!r} matches several datasets: {shown}.", hint="Give more characters.")
