"""Artifacts in the ui: listing, previews (text, JSON, CSV head, images) and downloads.

Only a path the run recorded can be read (the Client checks it and its sha256); paths
with ``..``, a leading ``/`` or a backslash are refused before anything is looked up.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
from typing import Any
from urllib.parse import quote

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import Artifact
from trackflow.ui.formatting import iso

__all__ = ["check_artifact_path", "artifact_json", "artifacts_json", "preview", "download",
           "IMAGE_TYPES", "MAX_PREVIEW_BYTES"]

MAX_PREVIEW_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 64 * 1024
CSV_ROWS = 20
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Images shown inline; everything else (SVG and HTML included) downloads as an attachment."""
_TEXT_SUFFIXES = (".txt", ".log", ".md", ".yaml", ".yml", ".py", ".toml", ".ini", ".cfg", ".html", ".svg", ".xml",
                  ".mlmodel", ".json", ".csv", ".tsv")


def check_artifact_path(path: str) -> str:
    """``path`` without surrounding slashes; InvalidInputError if it could leave the run's folder."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise InvalidInputError("An artifact path is required, e.g. ?path=model/manifest.json.")
    if path.startswith(("/", "\\")) or "\\" in path or ".." in path.split("/") or ":" in path.split("/")[0]:
        raise InvalidInputError(f"Artifact path {path!r} is not a path inside the run (no '..', '/', '\\\\' or drive).")
    return path.strip("/")


def media_type(artifact: Artifact) -> str:
    """The recorded media type, or a guess from the name."""
    if artifact.media_type and artifact.media_type != "application/octet-stream":
        return artifact.media_type
    return mimetypes.guess_type(artifact.path)[0] or "application/octet-stream"


def _preview_kind(artifact: Artifact) -> str:
    kind = media_type(artifact)
    lower = artifact.path.lower()
    if kind in IMAGE_TYPES:
        return "image"
    if lower.endswith(".json") or kind == "application/json":
        return "json"
    if lower.endswith((".csv", ".tsv")) or kind == "text/csv":
        return "csv"
    if kind.startswith("text/") or lower.endswith(_TEXT_SUFFIXES):
        return "text"
    return "none"


def _download_url(run_id: str, path: str) -> str:
    return f"/api/runs/{run_id}/artifacts/download?path={quote(path)}"


def artifact_json(artifact: Artifact) -> dict[str, Any]:
    """One artifact for the page and the API."""
    return {
        "path": artifact.path, "size": artifact.size, "media_type": media_type(artifact), "sha256": artifact.sha256,
        "created_at": iso(artifact.created_at), "preview": _preview_kind(artifact),
        "download_url": _download_url(artifact.run_id, artifact.path),
    }


def artifacts_json(client: Client, run_id: str) -> list[dict[str, Any]]:
    """Every artifact of a run, by path."""
    return [artifact_json(a) for a in sorted(client.list_artifacts(run_id), key=lambda a: a.path)]


def _find(client: Client, run_id: str, path: str) -> Artifact:
    from trackflow.exceptions import NotFoundError

    clean = check_artifact_path(path)
    for artifact in client.list_artifacts(run_id, clean):
        if artifact.path == clean:
            return artifact
    raise NotFoundError(f"Run {run_id} has no artifact {clean!r}.")


def preview(client: Client, run_id: str, path: str) -> dict[str, Any]:
    """A preview of one artifact: ``kind`` text/json/csv/image/none and its content (text cut at 64 KiB)."""
    artifact = _find(client, run_id, path)
    result: dict[str, Any] = {**artifact_json(artifact), "kind": _preview_kind(artifact), "truncated": False}
    if result["kind"] == "image":
        result["url"] = result["download_url"] + "&inline=1"
        return result
    if result["kind"] == "none" or artifact.size > MAX_PREVIEW_BYTES:
        result["kind"] = "none"
        return result
    text = client.read_artifact(run_id, artifact.path).decode("utf-8", errors="replace")
    if result["kind"] == "json":
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            result["kind"] = "text"
    if result["kind"] == "csv":
        dialect = "excel-tab" if artifact.path.lower().endswith(".tsv") else "excel"
        reader = csv.reader(io.StringIO(text), dialect=dialect)
        rows = [row for _, row in zip(range(CSV_ROWS + 1), reader, strict=False)]
        result.update(header=rows[0] if rows else [], rows=rows[1:], truncated=len(rows) > CSV_ROWS)
        return result
    result["truncated"] = len(text) > MAX_TEXT_CHARS
    result["text"] = text[:MAX_TEXT_CHARS]
    return result


def download(client: Client, run_id: str, path: str, *, inline: bool) -> tuple[bytes, str, dict[str, str]]:
    """The bytes of an artifact, its media type and response headers (inline only for plain images)."""
    artifact = _find(client, run_id, path)
    data = client.read_artifact(run_id, artifact.path)
    kind = media_type(artifact)
    name = artifact.path.rsplit("/", 1)[-1]
    plain = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = "inline" if inline and kind in IMAGE_TYPES else "attachment"
    headers = {"Content-Disposition": f"{disposition}; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}",
               "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    return data, kind, headers
