"""Logging params, metrics and tags (the write-heavy half of the Client; notes: :mod:`.notes`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.buffer import WriteBuffer
from trackflow.tracking.entities import Metric
from trackflow.tracking.store.base import MetricRecord, TrackingStore
from trackflow.tracking.validation import (
    metric_value_to_float,
    tag_value_to_str,
    validate_key,
    validate_params,
    validate_run_id,
    validate_step,
    validate_timestamp,
)

__all__ = ["LoggingMixin", "MetricInput"]

MetricInput = Mapping[str, Any] | Iterable[Metric | tuple[Any, ...]]
"""Metrics for log_batch: {key: value}, Metric entities, or (key, value[, step[, timestamp_ms]])."""


class LoggingMixin:
    """Params (write-once), metrics (full history) and tags of a run."""

    _store: TrackingStore
    _buffer: WriteBuffer

    def _known_run(self, run_id: str) -> str:
        if self._buffer.is_known_run(run_id):
            return run_id
        run_id = validate_run_id(run_id)
        if not self._buffer.is_known_run(run_id):
            with self._store.transaction(write=False) as tx:
                if not tx.read_runs([run_id]):
                    raise NotFoundError(f"Run {run_id} does not exist.", hint="Create it with start_run/create_run.")
            self._buffer.remember_run(run_id)
        return run_id

    # ---- metrics --------------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
        """Queue one metric value (NaN and inf allowed); written in batches.

        Everything is validated here (``InvalidInputError``): the key, the value (a real
        number, NumPy scalars included), the step and the timestamp (integer milliseconds
        since the epoch, up to the year 9999). A value the database still rejects at write
        time is dropped and logged; it never holds up the other values.
        """
        run_id = self._known_run(run_id)
        record: MetricRecord = (
            run_id,
            validate_key(key, "Metric key"),
            metric_value_to_float(key, value),
            validate_step(key, step),
            time.time_ns() // 1_000_000 if timestamp is None else validate_timestamp(key, timestamp),
        )
        self._buffer.add_metric(record)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        """Queue several metric values at one step."""
        run_id = self._known_run(run_id)
        self._buffer.add_metrics(_metric_records(run_id, metrics, step))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value ever logged for ``key``, by step."""
        run_id = validate_run_id(run_id)
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            return tx.read_metric_history(run_id, key)

    # ---- params and tags ----------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log a param; the same value again is fine, another raises ConflictError.

        The value is stored as text. A lone surrogate in it (a file name that is not UTF-8,
        ``'caf\\udce9.csv'``) is stored backslash-escaped (``'caf\\\\udce9.csv'``); one in
        the key raises InvalidInputError.
        """
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params; all are checked before any is queued."""
        run_id = self._known_run(run_id)
        self._buffer.add_params(run_id, validate_params(params))

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (overwrites)."""
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags (overwrites)."""
        run_id = self._known_run(run_id)
        self._buffer.add_tags(run_id, _clean_tags(tags))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; NotFoundError if it is not set."""
        run_id = self._known_run(run_id)
        self._buffer.flush()
        with self._store.transaction() as tx:
            if not tx.delete_tag(run_id, key):
                raise NotFoundError(f"Run {run_id} has no tag {key!r}.")

    def log_batch(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: MetricInput | None = None,
        tags: Mapping[str, Any] | None = None,
        step: int = 0,
    ) -> None:
        """Log params, metrics and tags together: all of them or none.

        Everything is validated, and params are checked for conflicts, before anything is
        queued; the batch is then written by one transaction (at the latest when the run
        ends or anything is read). A bad value or a conflicting param raises and nothing of
        the batch is kept.
        """
        run_id = self._known_run(run_id)
        clean_params = validate_params(params or {})
        clean_tags = _clean_tags(tags or {})
        records = _metric_records(run_id, metrics or {}, step)
        self._buffer.add_batch(run_id, params=clean_params, tags=clean_tags, metrics=records)


def _clean_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise InvalidInputError(f"Tags must be a mapping of names to values, got {type(tags).__name__}.")
    return {validate_key(k, "Tag key"): tag_value_to_str(k, v) for k, v in tags.items()}


def _metric_records(run_id: str, metrics: MetricInput, step: int) -> list[MetricRecord]:
    now = time.time_ns() // 1_000_000
    records: list[MetricRecord] = []
    if isinstance(metrics, Mapping):
        default_step = validate_step("metrics", step)
        for key, value in metrics.items():
            records.append((run_id, validate_key(key, "Metric key"), metric_value_to_float(key, value), default_step, now))
        return records
    for item in metrics:
        if isinstance(item, Metric):
            key, value, item_step, ts = item.key, item.value, item.step, int(item.timestamp.timestamp() * 1000)
        elif isinstance(item, tuple) and 2 <= len(item) <= 4:
            key, value = item[0], item[1]
            item_step = item[2] if len(item) > 2 else step
            ts = item[3] if len(item) > 3 else now
        else:
            raise InvalidInputError(f"Cannot read a metric from {item!r}: use (key, value[, step[, timestamp_ms]]).")
        records.append(
            (
                run_id,
                validate_key(key, "Metric key"),
                metric_value_to_float(key, value),
                validate_step(key, item_step),
                validate_timestamp(key, ts),
            )
        )
    return records


