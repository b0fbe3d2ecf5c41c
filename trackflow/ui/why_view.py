"""The "why this version" section of a version page: the registry's WhyReport with links.

The report is :meth:`RegistryClient.why`'s (the same that ``trackflow models why`` prints and
the model card carries); this module adds where each lineage reference leads in the ui.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from trackflow.tracking.client import Client

__all__ = ["why_data", "ref_href"]

logger = logging.getLogger("trackflow.ui")


def ref_href(ref: str) -> str:
    """Where a lineage reference leads: a run's page, else the lineage explorer around it."""
    if ref.startswith("run:"):
        return f"/runs/{quote(ref[4:])}"
    return f"/lineage?ref={quote(ref, safe=':/')}"


def _journal_href(experiment: str | None, note_id: int) -> str | None:
    return f"/journal/{quote(experiment)}#note-{note_id}" if experiment else None


def why_data(client: Client, name: str, version: int) -> dict[str, Any] | None:
    """The version's report as JSON with ``href``s, its text and markdown; None when it cannot be built."""
    from trackflow.registry.why import why
    from trackflow.registry.why_render import describe_dataset, describe_decision, render_why_markdown, render_why_text

    try:
        report = why(f"models:/{name}/{version}", client=client)
    except Exception as exc:  # noqa: BLE001 - the page shows the rest
        logger.warning("trackflow ui: no 'why' for %s v%s: %s", name, version, exc)
        return None
    data = report.to_dict()
    for note, raw in zip(report.notes, data["notes"], strict=True):
        raw["href"] = _journal_href(note.experiment, note.id)
        raw["run_href"] = f"/runs/{note.run_id}" if note.run_id else None
        for item in raw["evidence"]:
            item["href"] = ref_href(item["ref"])
    for item, dataset in zip(data["datasets"], report.datasets, strict=True):
        item["lines"] = describe_dataset(dataset, report.previous_version)
        item["href"] = ref_href(dataset.ref)
    promotion = report.promotion
    data["promotion_lines"] = describe_decision(promotion) if promotion is not None else []
    data["informed_by"] = [{"ref": ref, "href": ref_href(ref)} for ref in report.informed_by]
    data["text"] = render_why_text(report)
    data["markdown"] = render_why_markdown(report, link=ref_href)
    return data
