"""Datasets: one record per content fingerprint, linked to runs through lineage."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import Dataset, now_ms
from trackflow.tracking.store.convert import to_dataset
from trackflow.tracking.store.orm import DatasetRow
from trackflow.tracking.store.sql import chunks, insert_ignore

__all__ = ["upsert_dataset", "read_dataset_by_fingerprint", "read_datasets_by_fingerprint"]


def upsert_dataset(session: Session, *, fingerprint: str, name: str, kind: str, schema: Any, num_rows: int | None,
                   num_columns: int | None, profile: Any, source: str | None, size_bytes: int | None) -> Dataset:
    """Return the dataset with this fingerprint, recording it first if it is new."""
    insert_ignore(
        session,
        DatasetRow,
        [
            {
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
        ],
        ["fingerprint"],
    )
    dataset = read_dataset_by_fingerprint(session, fingerprint)
    assert dataset is not None
    return dataset


def read_dataset_by_fingerprint(session: Session, fingerprint: str) -> Dataset | None:
    """The dataset with this fingerprint, or None."""
    row = session.scalars(select(DatasetRow).where(DatasetRow.fingerprint == fingerprint)).first()
    return to_dataset(row) if row else None


def read_datasets_by_fingerprint(session: Session, fingerprints: list[str]) -> dict[str, Dataset]:
    """Datasets keyed by fingerprint (unknown fingerprints are left out)."""
    found: dict[str, Dataset] = {}
    for part in chunks(fingerprints):
        for row in session.scalars(select(DatasetRow).where(DatasetRow.fingerprint.in_(part))):
            found[row.fingerprint] = to_dataset(row)
    return found
