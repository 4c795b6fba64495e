"""The state the service's parts share: the settings, the store, the uploads folder and the search index.

GapLensService (service/serving/engine.py) is this base with its parts mixed in: uploads and jobs
(uploads.py), the worker (worker.py), the read side (reads.py) and keys and sign-in (accounts.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

from service.encoding.index import PassageIndex
from service.encoding.models import encoder_available, get_encoder
from service.serving.auth import Tenant
from service.settings import EARLIER_MULTILINGUAL, Settings
from service.store import ALL_TENANTS, Store, TenantStore

log = logging.getLogger("gaplens")


# A temp file this old is a leftover whoever wrote it: no single write takes an hour.
STALE_TEMP_SECONDS = 3600.0


def write_durably(path: Path, data: bytes) -> None:
    """Write ``path`` so that it survives a crash once this returns: temp file, fsync, rename, fsync dir."""
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:  # a full disk, an I/O error: no partial file stays behind
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def sweep_temp_files(folder: Path) -> int:
    """Remove temp files (``*.<pid>.<thread>.tmp``) that no live writer will finish; how many.

    A writer that died mid-write (a crash, kill -9, a full disk before this was cleaned up) leaves its
    temp file. Another live process's temp file (servers sharing a data folder) is left alone unless it
    is older than STALE_TEMP_SECONDS, which no single write takes.
    """
    removed = 0
    for path in folder.glob("*.tmp"):
        pid = path.name.split(".")[-3] if path.name.count(".") >= 3 else ""
        try:
            stale = time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS
        except FileNotFoundError:
            continue
        if stale or not pid.isdigit() or not pid_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (of any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ServiceBase:
    """The store, the index and the files every part of the service reads or writes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store  # opened by start()
        self.uploads = settings.data_dir / "uploads"
        self.pages = settings.data_dir / "pages"
        # One part of the search index per encoder that made passage vectors (search_encoder); None: no
        # passage has its vectors yet.
        self._indexes: dict[str, PassageIndex | None] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._submitting = threading.Lock()
        self._resume = True
        self._heartbeat: threading.Thread | None = None
        # which process (and which start of it) holds a job's lease: "host:pid:token"
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # With several workers one tenant may hold all but one, so others always have a turn.
        workers = settings.job_workers
        self._per_tenant = workers - 1 if workers > 1 else None
        self._index_upto = 0
        self._index_sync = threading.RLock()

    @property
    def _every(self) -> TenantStore:
        """The workers' and the index's view: every tenant's jobs and passages (each job names its tenant)."""
        return self.store.for_tenant(ALL_TENANTS)

    def _of(self, tenant: Tenant) -> TenantStore:
        return self.store.for_tenant(tenant.id)

    @property
    def index(self) -> PassageIndex:
        """The main encoder's part of the search index (English passages, and all stored before parts)."""
        model = self.settings.embedding_model
        with self._index_sync:
            index = self.index_part(model)
            if index is None:
                index = self.index_part_for(model, get_encoder(model, self.settings.encoder_runtime).dim)
            return index

    def index_part(self, model: str) -> PassageIndex | None:
        """The part of the search index that holds ``model``'s vectors; None while the store has none.

        So a server that never read a Dutch report never loads e5 to search.
        """
        return self._open_part(model, None)

    def index_part_for(self, model: str, dim: int) -> PassageIndex:
        """``model``'s part of the search index, made empty with ``dim`` if need be (a job adds the first)."""
        index = self._open_part(model, dim)
        assert index is not None  # made with ``dim`` when the store had no vectors
        return index

    def _open_part(self, model: str, dim: int | None) -> PassageIndex | None:
        """A part as it is, read from its file or rebuilt from the store; made only from vectors or dim."""
        with self._index_sync:
            index = self._indexes.get(model)
            if index is not None or (model in self._indexes and dim is None):
                return index
            ids, vectors = self._every.all_passage_vectors(model)
            if not ids and dim is None:
                self._indexes[model] = None
                return None
            index = PassageIndex(self._index_folder(model), model, int(vectors.shape[1] if ids else dim or 0))
            if not index.load(expected_count=len(ids)):
                log.info("rebuilding the %s search index from the store (%d passages)", model, len(ids))
                index.rebuild(ids, vectors)
            self._index_upto = max(self._index_upto, ids[-1]) if ids else self._index_upto  # ids ascend
            self._indexes[model] = index
            return index

    def _index_folder(self, model: str) -> Path:
        """data_dir/index for the main encoder (where it always was); a folder in it for each other one."""
        folder = self.settings.data_dir / "index"
        return folder if model == self.settings.embedding_model else folder / re.sub(r"[^\w.-]", "_", model)

    def search_models(self) -> list[str]:
        """Encoders whose vectors passages may be searched by: the main one, then the multilingual ones.

        Non-English reports analysed by an earlier release keep its encoder's vectors until they are analysed
        again, so those parts stay searchable where that encoder still loads (the untuned e5 always does; the
        twelve-layer tuned e5 while GAPLENS_TUNED_E5_LAYERS names its layers). A store without such vectors
        never loads them.
        """
        earlier = [m for m in EARLIER_MULTILINGUAL if encoder_available(m)]
        models = (self.settings.embedding_model, self.settings.multilingual_model, *earlier)
        return list(dict.fromkeys(m for m in models if m))

    def _catch_up_index(self) -> None:
        """Add passages another process stored (a second server on the same PostgreSQL) to our index.

        One cheap query per search when nothing is new; the store is the truth, the index a copy.
        """
        last = self._every.last_passage_id()
        if last <= self._index_upto:
            return
        with self._index_sync:
            for model in self.search_models():
                if self._indexes.get(model) is None:
                    self._indexes.pop(model, None)  # try again: its first vectors may have come
                    self.index_part(model)
                    continue
                ids, vectors = self._every.all_passage_vectors(model, self._index_upto)
                index = self._indexes[model]
                if ids and index is not None:
                    index.add(ids, vectors)
            self._index_upto = max(self._index_upto, last)

    # --- uploads and jobs ------------------------------------------------------------------
    def upload_path(self, sha256: str) -> Path:
        """Where an uploaded PDF is kept: content-addressed, so a re-upload finds the same file."""
        return self.uploads / f"{sha256}.pdf"

    def page_texts_path(self, sha256: str) -> Path:
        """Where the raw page texts read while validating an upload are kept, beside the PDF."""
        return self.uploads / f"{sha256}.pages.json"

    def stored_page_texts(self, sha256: str) -> list[str] | None:
        """The page texts kept at upload; None for an upload from before they were kept, or a bad file."""
        try:
            texts = json.loads(self.page_texts_path(sha256).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        valid = isinstance(texts, list) and all(isinstance(t, str) for t in texts)
        return texts if valid else None
