"""Full-text search over notes: ``Client.search_notes`` on a SQLite store of 100,000 notes.

Seeding: ``runs`` runs over four experiments are made through the Client; the notes are
then inserted in bulk with the standard library's ``sqlite3`` into the ``notes`` table (the
migration's triggers fill the FTS5 index exactly as ``Client.note`` does). Each note has
8-30 words drawn from a Zipf-like vocabulary of 5,000 words, a kind and a run.

Each query below is timed ``calls`` times after one warm-up call, in one process; the figure
is the median wall time of ``search_notes`` (newest 100 results, evidence included):

- ``common``: one of the most frequent words (matches ~30% of the notes)
- ``rare``: a word in a handful of notes
- ``two_words``: two mid-frequency words together
- ``prefix``: a three-letter prefix of a frequent word
- ``kind_experiment``: a common word, restricted to one kind and one experiment
- ``no_text``: no text, one kind (the journal view)

Call :func:`notes_search` from a harness, or ``python benchmarks/notes_bench.py [--notes N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["notes_search", "QUERIES"]

KINDS = ("note", "decision", "assumption", "finding")
EXPERIMENTS = ("churn", "fraud", "pricing", "ranking")
QUERIES: dict[str, dict[str, Any]] = {
    "common": {"text": "w1"},
    "rare": {"text": "rareword7"},
    "two_words": {"text": "w40 w41"},
    "prefix": {"text": "w99"},
    "kind_experiment": {"text": "w2", "kind": "decision", "experiment": "fraud"},
    "no_text": {"kind": "assumption"},
}


def _vocabulary(size: int) -> list[str]:
    return [f"w{i}" for i in range(size)]


def _seed(client: Any, db_path: str, *, notes: int, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    run_ids = [client.create_run(EXPERIMENTS[i % len(EXPERIMENTS)], run_name=f"explore-{i}", kind="exploration").id
               for i in range(runs)]
    client.flush()
    words = _vocabulary(5000)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    now = time.time_ns() // 1_000_000 - notes
    rows = []
    for i in range(notes):
        text = " ".join(rng.choices(words, weights, k=rng.randint(8, 30)))
        if i % 20_000 == 7:
            text += " rareword7"
        rows.append((rng.choice(run_ids), rng.choice(KINDS), text, now + i))
    connection = sqlite3.connect(db_path)
    with connection:
        connection.executemany("INSERT INTO notes (run_id, kind, text, created_at) VALUES (?, ?, ?, ?)", rows)
    connection.close()


def notes_search(*, notes: int = 100_000, runs: int = 200, calls: int = 20, seed: int = 5,
                 directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Seed ``notes`` notes into a fresh SQLite store and time ``search_notes``; the figures.

    Returns ``{"notes": N, "seed_s": ..., "queries": {name: {"median_ms", "min_ms", "max_ms",
    "results"}}, "worst_median_ms": ...}``. TRACKFLOW_* variables are set for the call only.
    """
    saved = {k: os.environ.get(k) for k in ("TRACKFLOW_HOME", "TRACKFLOW_TRACKING_URI", "TRACKFLOW_ARTIFACT_ROOT")}
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        db_path = str(Path(tmp) / "notes.db")
        os.environ.update(TRACKFLOW_HOME=tmp, TRACKFLOW_TRACKING_URI=f"sqlite:///{db_path}",
                          TRACKFLOW_ARTIFACT_ROOT=str(Path(tmp) / "artifacts"))
        try:
            from trackflow.tracking.client import Client

            client = Client()
            started = time.perf_counter()
            _seed(client, db_path, notes=notes, runs=runs, seed=seed)
            seed_s = time.perf_counter() - started
            figures: dict[str, Any] = {}
            for name, query in QUERIES.items():
                found = client.search_notes(**query)  # warm-up
                samples = []
                for _ in range(calls):
                    start = time.perf_counter()
                    client.search_notes(**query)
                    samples.append((time.perf_counter() - start) * 1000)
                figures[name] = {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2),
                                 "max_ms": round(max(samples), 2), "results": len(found)}
            client._store.dispose()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    worst = max(f["median_ms"] for f in figures.values())
    return {"notes": notes, "seed_s": round(seed_s, 2), "queries": figures, "worst_median_ms": worst}


def main() -> None:
    """Print the figures of :func:`notes_search` as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(notes_search(notes=args.notes, calls=args.calls), indent=2))


if __name__ == "__main__":
    main()
