"""Notes with evidence, what they inform, and their full-text search (the Client's half).

A note is the lineage node ``note:<id>`` with edges

- ``(<evidence>, note:<id>, "evidence")`` for each piece of evidence (its name on the edge:
  ``metrics.auc``, an artifact path, a dataset name),
- ``(note:<id>, run:<run id>, "noted_in")`` to the run it was written in,
- ``(note:<id>, run:<pipeline run>, "informs")`` for each run it informs.

A pipeline run's ``informed_by`` (:meth:`NotesMixin.link_informs`) adds
``(run:<exploration run> | note:<id>, run:<pipeline run>, "informs")``. Walking upstream
from a pipeline run thus reaches its notes, what informed it and their evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.buffer import WriteBuffer
from trackflow.tracking.entities import EVIDENCE, INFORMS, NOTED_IN, Artifact, Dataset, Note, Run, now_ms
from trackflow.tracking.evidence import EvidenceItem, classify_evidence, informs_targets
from trackflow.tracking.lineage import normalize_ref
from trackflow.tracking.store.base import TrackingStore
from trackflow.tracking.validation import MAX_NOTE_LENGTH, validate_note_kind, validate_run_id

if TYPE_CHECKING:
    from trackflow.tracking.figures import LoggedFigure

__all__ = ["NotesMixin", "informing_nodes", "search_terms", "MAX_NOTE_RESULTS"]

MAX_NOTE_RESULTS = 10_000
_WORD = re.compile(r"\w+", re.UNICODE)


def search_terms(text: str | None) -> list[str]:
    """The words of a search text, lowercased (what every note must hold); [] for None."""
    if text is None:
        return []
    if not isinstance(text, str):
        raise InvalidInputError(f"The search text must be a string, got {type(text).__name__}.")
    terms = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))
    if not terms:
        raise InvalidInputError(f"The search text {text!r} has no words to search for.")
    return terms[:32]


class NotesMixin:
    """Notes of runs: writing them with evidence, reading, searching, ``informed_by`` links."""

    _store: TrackingStore
    _buffer: WriteBuffer

    if TYPE_CHECKING:  # provided by the Client and its other mixins

        def _known_run(self, run_id: str) -> str: ...

        def get_run(self, run_id: str) -> Run: ...

        def list_artifacts(self, run_id: str, path: str = "") -> list[Artifact]: ...

        def log_dataset(
            self, run_id: str, data: Any, name: str, *, role: str = "input", source: str | None = None
        ) -> Dataset: ...

    def note(
        self,
        run_id: str,
        text: str,
        *,
        kind: str = "note",
        evidence: Iterable[Any] | None = None,
        informs: Iterable[str | Run] | str | None = None,
    ) -> Note:
        """Attach a timestamped note (note, decision, assumption or finding) to a run.

        ``evidence``: what the note rests on (see :mod:`trackflow.tracking.evidence`): lineage
        references, ``Run`` / ``Note`` / ``Dataset`` / ``Artifact`` entities, what
        ``log_figure`` returned, ``"metrics.<key>"`` / ``"params.<key>"`` of this run, an
        artifact path of this run, or a DataFrame / array (recorded as an input dataset of
        this run). ``informs``: runs this note informs (ids, ``run:<id>`` or ``Run``).
        Everything is checked before anything is written (``InvalidInputError`` /
        ``NotFoundError``); a DataFrame is recorded as a dataset before the note itself.
        """
        run_id = self._known_run(run_id)
        note_kind = validate_note_kind(kind)
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("A note needs non-empty text.")
        if len(text) > MAX_NOTE_LENGTH:
            raise InvalidInputError(f"A note is limited to {MAX_NOTE_LENGTH} characters; got {len(text)}.")
        items = classify_evidence(evidence or [])
        targets = informs_targets(informs)
        fingerprints = self._check_evidence(run_id, items, targets)
        links: list[tuple[str, str]] = []  # (node, edge name), in the given order
        for item in items:
            if item.dataset is not None:
                fp = fingerprints[id(item)]
                dataset = self.log_dataset(run_id, fp, item.dataset.name)
                links.append((dataset.ref, dataset.name))
            else:
                links.append((item.node or f"run:{run_id}", item.name))
        self._buffer.ensure_written(run_id)
        with self._store.transaction() as tx:
            note = tx.create_note(run_id, note_kind.value, text)
            tx.create_edges(_note_edges(note, run_id, links, targets))
            return tx.read_notes_by_id([note.id])[note.id]

    def _check_evidence(self, run_id: str, items: list[EvidenceItem], targets: list[str]) -> dict[int, Any]:
        """Check every piece of evidence and informs target; fingerprint values. Writes nothing."""
        from trackflow.tracking.fingerprint import fingerprint_dataset

        fingerprints: dict[int, Any] = {}
        run: Run | None = None
        for item in items:
            if item.metric is not None or item.param is not None:
                run = run or self.get_run(run_id)
                values = run.metrics if item.metric is not None else run.params
                key = item.metric or item.param
                if key not in values:
                    raise InvalidInputError(f"Run {run_id} has no {item.name} to cite as evidence.",
                                            hint="Log it first (log_metric / log_param).")
            elif item.artifact_path is not None:
                found = [a for a in self.list_artifacts(run_id, item.artifact_path) if a.path == item.artifact_path]
                if not found:
                    raise InvalidInputError(
                        f"{item.artifact_path!r} is neither a lineage reference nor an artifact of run {run_id}.",
                        hint="Use run:<id>, dataset:<fp>, note:<id>, artifact:<uri>, metrics.<key> or a logged artifact path.",
                    )
                item.node = f"artifact:{found[0].uri}"
            elif item.dataset is not None:
                fingerprints[id(item)] = fingerprint_dataset(item.dataset.value)
        self._check_nodes_exist([i.node for i in items if i.node] + targets)
        return fingerprints

    def _check_nodes_exist(self, nodes: Sequence[str]) -> None:
        """Runs, notes and datasets named as evidence or targets must exist."""
        runs = [n.split(":", 1)[1] for n in nodes if n.startswith("run:")]
        notes = [int(n.split(":", 1)[1]) for n in nodes if n.startswith("note:")]
        datasets = [n.split(":", 1)[1] for n in nodes if n.startswith("dataset:")]
        if not (runs or notes or datasets):
            return
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            missing = sorted(set(runs) - {r.id for r in tx.read_runs(runs)}) if runs else []
            missing_notes = sorted(set(notes) - set(tx.read_notes_by_id(notes))) if notes else []
            missing_data = sorted(set(datasets) - set(tx.read_datasets_by_fingerprint(datasets))) if datasets else []
        if missing:
            raise NotFoundError(f"Run {missing[0]} does not exist.")
        if missing_notes:
            raise NotFoundError(f"Note {missing_notes[0]} does not exist.")
        if missing_data:
            raise NotFoundError(f"No dataset with fingerprint {missing_data[0]!r}.")

    def log_figure(self, run_id: str, figure: Any, path: str) -> LoggedFigure:
        """Store a matplotlib / plotly figure as PNG + SVG artifacts at ``path`` (see
        :mod:`trackflow.tracking.figures`); the result's ``ref`` is usable as evidence."""
        from trackflow.tracking.figures import log_figure

        return log_figure(self, run_id, figure, path)  # type: ignore[arg-type]  # self is the Client

    def get_notes(self, run_id: str, *, kind: str | None = None) -> list[Note]:
        """A run's notes, oldest first (one kind only when given), with evidence and informs."""
        run_id = validate_run_id(run_id)
        wanted = validate_note_kind(kind).value if kind is not None else None
        with self._store.transaction(write=False) as tx:
            return tx.read_notes(run_id, wanted)

    def get_notes_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[Note]]:
        """Each run's notes (oldest first, with evidence and informs) in one read; runs without notes left out."""
        wanted = [validate_run_id(r) for r in run_ids]
        with self._store.transaction(write=False) as tx:
            return tx.read_notes_of_runs(wanted)

    def get_note(self, note: int | str) -> Note:
        """One note by id or ``note:<id>``; NotFoundError if there is none."""
        note_id = _note_id(note)
        with self._store.transaction(write=False) as tx:
            found = tx.read_notes_by_id([note_id])
        if note_id not in found:
            raise NotFoundError(f"Note {note_id} does not exist.")
        return found[note_id]

    def search_notes(
        self,
        *,
        text: str | None = None,
        kind: str | None = None,
        experiment: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
    ) -> list[Note]:
        """Notes holding every word of ``text`` (a word of the note starting with it matches;
        case and accents ignored), of one ``kind``, ``experiment`` (name) or run; newest first.

        Full-text indexed (SQLite FTS5, PostgreSQL GIN). Notes of deleted runs are left out.
        """
        terms = search_terms(text)
        wanted = validate_note_kind(kind).value if kind is not None else None
        if not isinstance(max_results, int) or isinstance(max_results, bool) or not 0 < max_results <= MAX_NOTE_RESULTS:
            raise InvalidInputError(f"max_results must be between 1 and {MAX_NOTE_RESULTS}, got {max_results!r}.")
        run = validate_run_id(run_id) if run_id is not None else None
        self._buffer.flush()
        with self._store.transaction(write=False) as tx:
            experiment_id: str | None = None
            if experiment is not None:
                found = tx.read_experiment_by_name(experiment)
                if found is None:
                    raise NotFoundError(f"No experiment named {experiment!r}.")
                experiment_id = found.id
            return tx.search_notes(terms=terms, kind=wanted, experiment_id=experiment_id, run_id=run, limit=max_results)

    def link_informs(self, run_id: str, sources: Iterable[str | Run | Note]) -> list[str]:
        """Record that ``sources`` (exploration runs, notes: ids, ``run:<id>``, ``note:<id>``,
        entities) informed the run ``run_id`` (``informs`` edges); the source nodes.

        What ``@flow(informed_by=...)`` and a spec's ``informed_by:`` record for a flow run.
        """
        target = f"run:{validate_run_id(run_id)}"
        nodes = informing_nodes(sources)
        self._check_nodes_exist(nodes)
        created = now_ms()
        rows = [{"source": n, "target": target, "relation": INFORMS, "run_id": target[4:], "name": None,
                 "created_at": created} for n in nodes]
        if rows:
            with self._store.transaction() as tx:
                tx.create_edges(rows)
        return nodes

    def informed_by(self, run_id: str) -> list[str]:
        """The nodes (``run:<id>``, ``note:<id>``) that inform a run or the runs it is nested
        in (a task run is informed by what informs its flow run), in recording order."""
        run_id = validate_run_id(run_id)
        self._buffer.flush()
        found: list[str] = []
        with self._store.transaction(write=False) as tx:
            current: str | None = run_id
            for _ in range(100):  # nesting is shallow; a bound guards against a corrupt cycle
                if current is None:
                    break
                edges = tx.read_edges([f"run:{current}"], outgoing=False)
                found += [e.source for e in edges if e.relation == INFORMS]
                runs = tx.read_runs([current])
                current = runs[0].parent_run_id if runs else None
        return list(dict.fromkeys(found))


def informing_nodes(sources: Iterable[str | Run | Note] | str) -> list[str]:
    """The ``run:<id>`` / ``note:<id>`` nodes of ``informed_by`` sources (validated, no store access)."""
    if isinstance(sources, (str, Run, Note)):
        sources = [sources]
    nodes: list[str] = []
    for source in sources:
        node = source.ref if isinstance(source, (Run, Note)) else normalize_ref(source) if isinstance(source, str) else ""
        if not (node.startswith("run:") or re.match(r"^note:[0-9]+$", node)):
            raise InvalidInputError(f"informed_by takes runs and notes (ids, run:<id>, note:<id>), got {source!r:.60}.")
        nodes.append(node)
    return list(dict.fromkeys(nodes))


def _note_id(note: int | str) -> int:
    text = str(note).removeprefix("note:")
    if isinstance(note, bool) or not text.isdigit():
        raise InvalidInputError(f"A note is given by its id or note:<id>, got {note!r}.")
    return int(text)


def _note_edges(note: Note, run_id: str, links: list[tuple[str, str]], targets: list[str]) -> list[dict[str, Any]]:
    created = now_ms()
    grouped: dict[str, list[str]] = {}
    for node, name in links:  # one edge per node: several metrics of one run share it
        names = grouped.setdefault(node, [])
        if name and name not in names:
            names.append(name)
    rows = [{"source": node, "target": note.ref, "relation": EVIDENCE, "name": ", ".join(names) or None}
            for node, names in grouped.items()]
    rows.append({"source": note.ref, "target": f"run:{run_id}", "relation": NOTED_IN, "name": None})
    rows += [{"source": note.ref, "target": t, "relation": INFORMS, "name": None} for t in targets]
    return [{**r, "run_id": run_id, "created_at": created} for r in rows]
