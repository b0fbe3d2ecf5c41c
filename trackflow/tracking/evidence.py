"""What a note's evidence may be, turned into lineage nodes before anything is written.

Evidence is whatever a user has at hand when writing a finding down:

- a lineage reference: ``run:<id>``, ``dataset:<fingerprint>``, ``artifact:<uri>``,
  ``note:<id>``, ``models:/<name>/<version>``, ``runs:/<run id>/<path>``, an artifact URI,
  or a bare run id;
- an entity with a ``ref`` (``Run``, ``Note``, ``Dataset``, the figure
  :func:`~trackflow.tracking.figures.log_figure` returns) or an ``Artifact``;
- ``"metrics.<key>"`` / ``"params.<key>"`` of the note's run: the node ``run:<id>`` with
  the key as the edge's name;
- the path of an artifact of the note's run (``"plots/roc.png"``);
- a value: a pandas DataFrame / Series or a NumPy array, fingerprinted here and recorded
  as an input dataset of the note's run (``dataset:<fingerprint>``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import Artifact, Run
from trackflow.tracking.lineage import normalize_ref

__all__ = ["EvidenceItem", "PendingDataset", "classify_evidence", "informs_targets", "DATA_TYPES"]

DATA_TYPES = ("DataFrame", "Series", "ndarray")
"""Type names of values fingerprinted as datasets (pandas, NumPy; matched by name so that
neither is imported here)."""
_KEY = re.compile(r"^(metrics|params)\.(.+)$")
_REF = re.compile(r"^(run|dataset|artifact|note|model|deployment):.+|^models:/.+|^runs:/.+|^[a-z0-9+.-]+://.+")
_NOTE = re.compile(r"^note:([0-9]+)$")


@dataclass(frozen=True)
class PendingDataset:
    """A value to fingerprint and record as an input dataset of the note's run."""

    value: Any
    name: str


@dataclass
class EvidenceItem:
    """One piece of evidence: a lineage node (or a dataset still to record), the name its
    edge carries, and what must exist for it to be valid."""

    node: str | None
    name: str = ""
    dataset: PendingDataset | None = None
    metric: str | None = None
    param: str | None = None
    artifact_path: str | None = None


def classify_evidence(items: Iterable[Any]) -> list[EvidenceItem]:
    """Sort each piece of evidence into what it is (no store access: the Client checks and
    records them). Raises InvalidInputError for something that cannot be evidence."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InvalidInputError("evidence must be a list (or tuple) of references or values.")
    found: list[EvidenceItem] = []
    for position, item in enumerate(items):
        found.append(_classify(item, position))
    return found


def _classify(item: Any, position: int) -> EvidenceItem:
    if isinstance(item, Artifact):
        return EvidenceItem(node=f"artifact:{item.uri}", name=item.path)
    if type(item).__name__ in DATA_TYPES:
        return EvidenceItem(node=None, dataset=PendingDataset(item, f"evidence-{position + 1}"))
    ref = getattr(item, "ref", None)
    if not isinstance(item, str) and isinstance(ref, str):
        return EvidenceItem(node=normalize_ref(ref), name=str(getattr(item, "path", "") or getattr(item, "name", "") or ""))
    if not isinstance(item, str) or not item.strip():
        raise InvalidInputError(
            f"Cannot use {type(item).__name__} {item!r:.60} as evidence.",
            hint="Pass a lineage reference (run:<id>, dataset:<fp>, note:<id> ...), 'metrics.<key>', an artifact "
            "path of the run, a DataFrame or array, or what log_figure / log_dataset returned.",
        )
    text = item.strip()
    key = _KEY.match(text)
    if key:
        kind, name = key.groups()
        return EvidenceItem(node=None, name=text, metric=name if kind == "metrics" else None,
                            param=name if kind == "params" else None)
    if _REF.match(text) or _is_run_id(text):
        node = normalize_ref(text)
        if node.startswith("note:") and not _NOTE.match(node):
            raise InvalidInputError(f"A note reference is note:<number>, got {text!r}.")
        return EvidenceItem(node=node)
    return EvidenceItem(node=None, name=text.strip("/"), artifact_path=text.strip("/"))


def _is_run_id(text: str) -> bool:
    try:
        return normalize_ref(text).startswith("run:")
    except InvalidInputError:
        return False


def informs_targets(items: Any, *, what: str = "informs") -> list[str]:
    """The ``run:<id>`` nodes of runs given as ids, ``run:<id>`` or :class:`Run` entities."""
    if items is None:
        return []
    if isinstance(items, (str, Run)):
        items = [items]
    targets: list[str] = []
    for item in items:
        node = item.ref if isinstance(item, Run) else normalize_ref(item) if isinstance(item, str) else None
        if node is None or not node.startswith("run:"):
            raise InvalidInputError(f"{what} takes runs (ids, run:<id> or Run), got {item!r:.60}.")
        targets.append(node)
    return list(dict.fromkeys(targets))
