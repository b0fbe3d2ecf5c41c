"""Datasets: one record per content fingerprint, linked to runs through lineage."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from trackflow.tracking.entities import Dataset, now_ms
from trackflow.tracking.store.convert import to_dataset
from trackflow.tracking.store.orm import DatasetRow
from trackflow.tracking.store.sql import SessionOps, chunks, insert_ignore

__all__ = ["DatasetOps"]


class DatasetOps(SessionOps):
    """The dataset operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def upsert_dataset(
        self,
        *,
        fingerprint: str,
        name: str,
        kind: str,
        schema: Any,
        num_rows: int | None,
        num_columns: int | None,
        profile: Any,
        source: str | None,
        size_bytes: int | None,
    ) -> Dataset:
        row = {
            "id": uuid.uuid4().hex,
            "fingerprint": fingerprint,
            "name": name,
            "kind": kind,
            "schema_json": json.dumps(schema),
            "num_rows": num_rows,
            "num_columns": num_columns,
            "profile_json": json.dumps(profile, allow_nan=False, default=str),
            "source": source,
            "size_bytes": size_bytes,
            "created_at": now_ms(),
        }
        insert_ignore(self.session, DatasetRow, [row], ["fingerprint"])
        dataset = self.read_datasets_by_fingerprint([fingerprint]).get(fingerprint)
        assert dataset is not None
        return dataset

    def read_datasets_by_fingerprint(self, fingerprints: list[str]) -> dict[str, Dataset]:
        found: dict[str, Dataset] = {}
        for part in chunks(fingerprints):
            for row in self.session.scalars(select(DatasetRow).where(DatasetRow.fingerprint.in_(part))):
                found[row.fingerprint] = to_dataset(row)
        return found
