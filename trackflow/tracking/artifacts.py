"""Artifact store: bytes under a root given as a local path or any fsspec URL.

The store knows nothing about runs or databases. Callers pass relative destination keys
such as ``"<run_id>/meta/classes.json"``; every key is checked by
:func:`validate_artifact_path` before anything is written.

Writes are atomic: content is streamed into a hidden temporary name next to the final
name (``.<name>.tmp-<uuid hex>``) while its sha256 and size are computed, then renamed
onto the final name (``os.replace`` on a local root, ``fs.mv`` otherwise). A failure
mid-write removes the temporary file and never leaves a partial file under the final name.

An ``OSError`` of the store itself (read-only or full root, a root that is not a folder,
a failing remote) is raised as :class:`~trackflow.exceptions.StoreError` naming the
artifact's URI and the reason.

A URL root is opened with fsspec storage options (``storage_options=``, else
``TRACKFLOW_ARTIFACT_STORAGE_OPTIONS``); a ``memory://`` root exists only in the process
that writes it (both: :mod:`trackflow.tracking.artifact_roots`).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import mimetypes
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

from trackflow.exceptions import InvalidInputError, NotFoundError, StoreError
from trackflow.tracking.artifact_roots import process_local_root, storage_options_for

__all__ = ["StoredFile", "ArtifactStore", "ArtifactStoreError", "validate_artifact_path"]

_CHUNK_SIZE = 1024 * 1024
_PathLike: TypeAlias = "str | os.PathLike[str]"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_DRIVE = re.compile(r"^[A-Za-z]:")
_TEMP_NAME = re.compile(r"^\..*\.tmp-[0-9a-f]{32}$", re.DOTALL)
_PATH_HINT = "Use a relative '/'-separated key such as '<run_id>/meta/classes.json'."
_ROOT_RELATIVE = "; pass a key relative to the artifact root"
# (pattern, reason) checked in order on the whole key; {found!r} is the matched text.
_PATH_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\x00-\x1f\x7f-\x9f]"), "it contains the control character {found!r}"),
    (re.compile(r"\\"), "it contains a backslash; use '/' as separator"),
    (_DRIVE, "it starts with a Windows drive letter"),
    (_SCHEME, "it starts with a URL scheme" + _ROOT_RELATIVE),
    (re.compile(r"^/"), "it is absolute" + _ROOT_RELATIVE),
    (re.compile(r"//"), "it contains an empty segment ('//')"),
    (re.compile(r"(?:^|(?<=/))\.\.?(?=/|$)"), "it contains a {found!r} segment"),
    (re.compile(r"[#?;]"), "it contains {found!r} (URL fragment, query or parameter separator)"),
    (re.compile(r"%[0-9A-Fa-f]{2}"), "it contains the percent-escape {found!r}; pass plain characters"),
)
_MEDIA_TYPES = {".json": "application/json", ".yaml": "application/yaml", ".yml": "application/yaml",
                ".md": "text/markdown", ".csv": "text/csv", ".txt": "text/plain"}
_ENCODING_MEDIA_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}


class ArtifactStoreError(StoreError, OSError):
    """The artifact store failed (read-only or full root, root not a folder, remote error).

    A :class:`~trackflow.exceptions.StoreError` naming the artifact; still an ``OSError``
    (``errno`` / ``strerror`` copied from the original) for code that catches those.
    """


@dataclass(frozen=True)
class StoredFile:
    """One object written to the artifact store."""

    path: str
    uri: str
    sha256: str
    size: int
    media_type: str


def validate_artifact_path(path: str, *, allow_empty: bool = False) -> str:
    """Return ``path`` as a normalized relative posix key or raise :class:`InvalidInputError`.

    Rejected: empty keys (unless ``allow_empty``), absolute paths, ``.``/``..`` and empty
    (``//``) segments, backslashes, Windows drive letters, URL schemes, ``#``, ``?``, ``;``,
    control characters, any percent-escape ``%XX`` (this also catches double encoding such
    as ``%252e``; a ``%`` not followed by two hex digits is allowed), segments longer than
    255 bytes, keys longer than 1024 bytes (UTF-8) and the store's temporary file names.
    One trailing ``/`` is removed.
    """
    if not isinstance(path, str):
        raise InvalidInputError(f"artifact path must be a string, got {type(path).__name__}", hint=_PATH_HINT)
    if path == "" and allow_empty:
        return ""
    problem = _path_problem(path)
    if problem is not None:
        raise InvalidInputError(f"invalid artifact path {path!r}: {problem}", hint=_PATH_HINT)
    return path[:-1] if path.endswith("/") else path


def _path_problem(path: str) -> str | None:
    """First reason why ``path`` is not an acceptable key, or ``None``."""
    if path == "":
        return "it is empty"
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode (lone surrogate)"
    for pattern, reason in _PATH_RULES:
        match = pattern.search(path)
        if match is not None:
            return reason.format(found=match.group())
    if size > 1024:
        return "it is longer than 1024 bytes"
    for segment in (path[:-1] if path.endswith("/") else path).split("/"):
        if len(segment.encode("utf-8")) > 255:
            return f"segment {segment[:16]!r}... is longer than 255 bytes"
        if _TEMP_NAME.match(segment):
            return f"segment {segment!r} is reserved for temporary files"
    return None


def _media_type(key: str) -> str:
    """Media type guessed from the key's extension."""
    suffix = os.path.splitext(key)[1].lower()
    if suffix in _MEDIA_TYPES:
        return _MEDIA_TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(key, strict=True)
    if encoding is not None:
        return _ENCODING_MEDIA_TYPES.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def _copy_stream(src: IO[bytes], dst: IO[bytes]) -> tuple[str, int]:
    """Copy ``src`` into ``dst`` chunk by chunk; return (sha256 hex digest, size)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(_CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
        dst.write(chunk)
    return digest.hexdigest(), size


def _atomic_write(fs: AbstractFileSystem, final: str, src: IO[bytes]) -> tuple[str, int]:
    """Stream ``src`` to a hidden temp sibling of ``final``, then rename it onto ``final``.

    On any failure the temp file is removed and nothing appears under ``final``.
    """
    parent, _, name = final.rpartition("/")
    short = name.encode("utf-8")[:150].decode("utf-8", errors="ignore")  # keep the temp name < 255 bytes
    tmp = f"{parent}/.{short}.tmp-{uuid.uuid4().hex}"
    local = isinstance(fs, LocalFileSystem)
    fs.makedirs(parent or "/", exist_ok=True)
    try:
        with open(tmp, "xb") if local else fs.open(tmp, "wb") as out:
            digest, size = _copy_stream(src, out)
            if local:
                out.flush()
                os.fsync(out.fileno())
        if local:
            os.replace(tmp, final)
        else:
            fs.mv(tmp, final)
    except BaseException:
        with suppress(Exception):
            fs.rm(tmp)
        raise
    return digest, size


def _raise(error: OSError) -> None:
    raise error


class ArtifactStore:
    """Artifact storage under a local directory or any fsspec URL (``memory://``, ``s3://``...).

    Local roots are resolved to an absolute path (symlinks included), exposed as ``file://``
    URIs and created on the first write.
    """

    def __init__(self, root: _PathLike, *, storage_options: Mapping[str, Any] | None = None) -> None:
        root_str = os.fspath(root)
        if not isinstance(root_str, str) or not root_str.strip():
            raise InvalidInputError(f"artifact root must be a non-empty path or URL, got {root!r}")
        self._fs: AbstractFileSystem = LocalFileSystem()
        fs_path = root_str
        if _SCHEME.match(root_str) and not _DRIVE.match(root_str):
            options = storage_options_for(storage_options)
            try:
                self._fs, fs_path = fsspec.core.url_to_fs(root_str, **options)
            except (ImportError, ValueError, TypeError) as exc:
                named = " with TRACKFLOW_ARTIFACT_STORAGE_OPTIONS" if options and storage_options is None else ""
                raise InvalidInputError(
                    f"cannot open artifact root {root_str!r}{named}: {exc}",
                    hint="Check the URL and the storage options; remote protocols need their fsspec package "
                    "(e.g. s3fs).",
                ) from exc
        self._local_root: Path | None = None
        if isinstance(self._fs, LocalFileSystem):
            self._local_root = Path(fs_path).expanduser().resolve()
            fs_path = self._local_root.as_posix()
            self._root_uri = "file://" + ("" if fs_path.startswith("/") else "/") + fs_path
        else:  # the URL as given, so stored URIs look like the configured root
            self._root_uri = root_str
            while self._root_uri.endswith("/") and not self._root_uri.endswith("://"):
                self._root_uri = self._root_uri[:-1]
        self._base = fs_path.rstrip("/")

    @property
    def root_uri(self) -> str:
        """Normalized URI of the root (``file:///...`` for local roots)."""
        return self._root_uri

    @property
    def process_local(self) -> bool:
        """True when what is stored here exists only in this process (``memory://``)."""
        return process_local_root(self._root_uri)

    def __repr__(self) -> str:
        return f"ArtifactStore({self._root_uri!r})"

    # ----------------------------------------------------------------- addressing
    def uri_for(self, path: str) -> str:
        """Full URI of the object at ``path`` (``""`` gives the root URI)."""
        key = validate_artifact_path(path, allow_empty=True)
        return f"{self._root_uri}/{key}" if key else self._root_uri

    def local_path(self, path: str) -> Path | None:
        """Filesystem path of ``path`` when the root is local, else ``None``."""
        key = validate_artifact_path(path, allow_empty=True)
        return None if self._local_root is None else Path(self._path(key, follow=False))

    def contains_uri(self, uri: str) -> bool:
        """True only if ``uri`` (URL or absolute local path) names something strictly inside the root.

        Rejects ``..``/``.`` segments, fragments, queries, percent-escapes, other schemes or
        hosts, look-alike prefixes such as ``//proc/self/root/...`` and (local roots) symlinks
        resolving outside the root. Never raises for a string argument.
        """
        candidate = self._fs_path_from_uri(uri) if isinstance(uri, str) else None
        if candidate is None or not candidate.startswith(self._base + "/"):
            return False
        try:
            self._path(validate_artifact_path(candidate[len(self._base) + 1 :]))
        except InvalidInputError:
            return False
        return True

    def _fs_path_from_uri(self, uri: str) -> str | None:
        if self._local_root is not None:
            if uri.startswith("file://"):
                return uri[len("file://") :] if uri.startswith("file:///") else None
            if _SCHEME.match(uri) and not _DRIVE.match(uri):
                return None
            return uri.replace(os.sep, "/") if os.path.isabs(uri) else None
        match = _URL.match(uri)
        protocols = self._fs.protocol if isinstance(self._fs.protocol, tuple) else (self._fs.protocol,)
        if match is None or match.group(1) not in protocols or "::" in uri:
            return None
        return str(self._fs._strip_protocol(uri))

    def _path(self, key: str, *, follow: bool = True) -> str:
        """Filesystem path of the validated ``key``.

        On a local root, raise :class:`InvalidInputError` if the path (or only its parent when
        ``follow`` is false) resolves outside the root through a symbolic link.
        """
        full = f"{self._base}/{key}" if key else self._base or "/"
        if self._local_root is not None:
            probe = Path(full) if follow or not key else Path(full).parent
            try:
                inside = probe.resolve().is_relative_to(self._local_root)
            except (OSError, RuntimeError):  # symlink loop
                inside = False
            if not inside:
                raise InvalidInputError(
                    f"artifact path {key!r} resolves outside the artifact root {self._root_uri} "
                    "through a symbolic link"
                )
        return full

    def _kind(self, key: str) -> str | None:
        """``"file"``, ``"dir"`` or ``None`` for the object at ``key``."""
        full = self._path(key)
        return "file" if self._fs.isfile(full) else "dir" if self._fs.isdir(full) else None

    @contextmanager
    def _os_errors(self, action: str, key: str) -> Iterator[None]:
        """Raise an ``OSError`` of the block as StoreError naming the artifact and the reason."""
        try:
            yield
        except OSError as exc:
            where = f"{self._root_uri}/{key}" if key else self._root_uri
            reason = exc.strerror or str(exc) or type(exc).__name__
            error = ArtifactStoreError(
                f"cannot {action} artifact {where}: {reason}",
                hint=f"Check that the artifact root {self._root_uri} is a writable folder with free space.",
            )
            error.errno, error.strerror, error.filename = exc.errno, exc.strerror, where
            raise error from exc

    def _not_found(self, key: str) -> NotFoundError:
        return NotFoundError(f"no artifact {key!r} under {self._root_uri}", hint="See what is stored: list().")

    # ----------------------------------------------------------------- writing
    def put_bytes(self, data: bytes, dest: str) -> StoredFile:
        """Store ``data`` at ``dest`` atomically."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInputError(f"put_bytes expects bytes, got {type(data).__name__}")
        key = validate_artifact_path(dest)
        self._check_destinations([key])
        return self._write(key, io.BytesIO(bytes(data)))

    def put_file(self, local_path: _PathLike, dest: str) -> StoredFile:
        """Copy the local file ``local_path`` to ``dest`` atomically.

        A symlinked source is rejected; pass ``Path(p).resolve()`` to store its target.
        """
        key = validate_artifact_path(dest)
        source = Path(local_path)
        if source.is_symlink():
            raise InvalidInputError(
                f"source file {str(source)!r} is a symbolic link",
                hint="Pass the resolved path if you mean to store the file it points to.",
            )
        _check_source_file(source)
        self._check_destinations([key])
        return self._write(key, source)

    def plan_tree(self, local_dir: _PathLike, dest_prefix: str) -> builtins.list[tuple[Path, str]]:
        """Validate a folder upload without writing; return sorted (local file, dest key) pairs.

        Every file under ``local_dir`` maps to ``dest_prefix/<relative path>``. Symlinks to
        files are accepted only when they resolve inside ``local_dir`` (the resolved file is
        returned); symlinked folders, special files and invalid keys are rejected.
        """
        prefix = validate_artifact_path(dest_prefix, allow_empty=True)
        base = Path(local_dir)
        if not base.is_dir():
            _check_source_file(base)  # raises NotFoundError if missing
            raise InvalidInputError(f"{str(base)!r} is not a folder", hint="Use put_file for a single file.")
        base = base.resolve()
        plan: builtins.list[tuple[Path, str]] = []
        for dirpath, dirnames, filenames in os.walk(base, onerror=_raise):
            for link in (os.path.join(dirpath, name) for name in dirnames):
                if os.path.islink(link):
                    raise InvalidInputError(f"{link!r} is a symlinked folder; those are not followed")
            for name in filenames:
                entry = Path(dirpath, name)
                resolved = entry.resolve()
                if not resolved.is_relative_to(base):
                    raise InvalidInputError(f"{str(entry)!r} is a symlink resolving outside {str(base)!r}")
                _check_source_file(resolved, shown=entry)
                relative = entry.relative_to(base).as_posix()
                plan.append((resolved, validate_artifact_path(f"{prefix}/{relative}".lstrip("/"))))
        plan.sort(key=lambda item: item[1])
        self._check_destinations([key for _, key in plan])
        return plan

    def put_tree(self, local_dir: _PathLike, dest_prefix: str) -> builtins.list[StoredFile]:
        """Store every file under ``local_dir`` below ``dest_prefix``, keeping the layout.

        Everything is validated first (:meth:`plan_tree`); if a write fails midway the
        files already written by this call are deleted and the error is re-raised.
        """
        written: builtins.list[StoredFile] = []
        try:
            for source, key in self.plan_tree(local_dir, dest_prefix):
                written.append(self._write(key, source))
        except BaseException:
            for stored in written:
                with suppress(Exception):
                    self.delete(stored.path)
            raise
        return written

    def _check_destinations(self, keys: Iterable[str]) -> None:
        """Reject keys that are existing folders, sit below a file, or escape a local root."""
        seen: set[str] = set()
        for key in keys:
            self._path(key, follow=False)
            if self._kind(key) == "dir":
                raise InvalidInputError(f"cannot write artifact {key!r}: a folder with that name exists")
            parts = key.split("/")
            for depth in range(len(parts) - 1, 0, -1):
                ancestor = "/".join(parts[:depth])
                if ancestor in seen:
                    break
                seen.add(ancestor)
                if self._kind(ancestor) == "file":
                    raise InvalidInputError(f"cannot write artifact {key!r}: {ancestor!r} is a file")

    def _write(self, key: str, source: Path | IO[bytes]) -> StoredFile:
        try:
            opened = open(source, "rb") if isinstance(source, Path) else nullcontext(source)
        except OSError as exc:
            raise InvalidInputError(f"cannot read local file {str(source)!r}: {exc.strerror or exc}") from exc
        with opened as src, self._os_errors("write", key):
            digest, size = _atomic_write(self._fs, self._path(key, follow=False), src)
        return StoredFile(key, self.uri_for(key), sha256=digest, size=size, media_type=_media_type(key))

    # ----------------------------------------------------------------- reading
    def _open(self, key: str) -> IO[bytes]:
        if self._kind(key) != "file":
            raise self._not_found(key)
        with self._os_errors("open", key):
            handle: IO[bytes] = self._fs.open(self._path(key), "rb")
        return handle

    def read_bytes(self, path: str) -> bytes:
        """Content of the file at ``path``; :class:`NotFoundError` if there is none."""
        key = validate_artifact_path(path)
        with self._open(key) as src, self._os_errors("read", key):
            return src.read()

    def fetch(self, path: str, local_file: _PathLike) -> tuple[str, int]:
        """Copy the file at ``path`` to the local file ``local_file`` atomically.

        Returns the copied content's (sha256 hex digest, size), computed while streaming, so
        the caller can verify it. :class:`NotFoundError` if no file is stored at ``path``.
        """
        key = validate_artifact_path(path)
        with self._open(key) as src, self._os_errors("download", key):
            return _atomic_write(LocalFileSystem(), Path(local_file).resolve().as_posix(), src)

    def exists(self, path: str) -> bool:
        """True if a file or folder exists at ``path``."""
        return self._kind(validate_artifact_path(path)) is not None

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted relative keys of the files at or under ``prefix`` (temp files never shown)."""
        key = validate_artifact_path(prefix, allow_empty=True)
        kind = self._kind(key)
        if kind != "dir":
            return [key] if kind == "file" else []
        top = self._path(key)
        if self._local_root is None:
            found = [str(p)[len(self._base) + 1 :] for p in self._fs.find(top)]
        else:  # os.walk does not follow symlinked folders; symlinks are never listed
            entries = (Path(dirpath, name) for dirpath, _, names in os.walk(top) for name in names)
            found = [
                entry.relative_to(self._local_root).as_posix()
                for entry in entries
                if entry.is_file() and not entry.is_symlink()
            ]
        return sorted(k for k in found if _path_problem(k) is None)

    def download(self, prefix: str, local_dir: _PathLike) -> Path:
        """Copy the file or folder at ``prefix`` into ``local_dir`` keeping its full key layout.

        Returns ``local_dir / prefix``. Raises :class:`NotFoundError` if nothing is stored there.
        """
        key = validate_artifact_path(prefix, allow_empty=True)
        keys = self.list(key)
        if not keys:
            raise self._not_found(key)
        base = Path(local_dir).resolve()
        for item in keys:
            self.fetch(item, base.joinpath(*item.split("/")))
        return base.joinpath(*key.split("/")) if key else base

    # ----------------------------------------------------------------- deleting
    def delete(self, path: str, *, missing_ok: bool = True) -> None:
        """Delete the file or folder at ``path``; missing is fine unless ``missing_ok=False``."""
        key = validate_artifact_path(path)
        full = self._path(key, follow=False)
        with self._os_errors("delete", key):
            present = self._delete(full)
        if not present and not missing_ok:
            raise self._not_found(key)

    def _delete(self, full: str) -> bool:
        if self._local_root is None:
            present = bool(self._fs.exists(full))
            if present:
                self._fs.rm(full, recursive=True)
        else:
            present = os.path.lexists(full)
            if present:
                self._delete_local(Path(full))
        return present

    def _delete_local(self, target: Path) -> None:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
        folder = target.parent
        with suppress(OSError):  # prune the folders the deletion left empty, up to the root
            while folder != self._local_root:
                folder.rmdir()
                folder = folder.parent


def _check_source_file(source: Path, *, shown: Path | None = None) -> None:
    """Raise unless ``source`` is an existing regular file (``shown`` is the name in messages)."""
    label = str(shown or source)
    if not source.exists():
        raise NotFoundError(f"local file or folder {label!r} does not exist")
    if not source.is_file():
        raise InvalidInputError(f"{label!r} is not a regular file", hint="Use put_tree for a folder.")
