"""The coalescing writer of one run's record.

It stores the record as the run changes, at most once per interval, plus a final write. It
shrinks a record too large to store, and reports a run whose record writes keep failing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from deployer.engine.workflow.masking import Masker
from deployer.engine.workflow.record import RecordStore, RecordTooLarge
from deployer.errors import ApiError, WorkflowError

log = logging.getLogger(__name__)

# Minimum time between two record writes of one run, in seconds.
WRITE_INTERVAL_SECONDS = 0.5

# Length to which node messages are cut in a record that was too large to store.
SHRUNK_MESSAGE_CHARS = 200


def shrink_record(record_data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a record without node inputs, outputs and results, messages cut short.

    The runner stores this form once the full record is too large, so that `deployer get`
    still shows every node with its phase. The workflow and template documents stay, because
    `deployer retry` rebuilds the run from them.
    """
    # NOTE: a retry of a shrunk run reuses its Succeeded nodes without their outputs, so a
    # later step that reads one of them fails with an undefined variable.
    nodes = {}
    for node_id, node in (record_data.get("nodes") or {}).items():
        nodes[node_id] = {
            **node,
            "inputs": {},
            "outputs": {},
            "result": None,
            "message": str(node.get("message") or "")[:SHRUNK_MESSAGE_CHARS],
        }
    return {**record_data, "nodes": nodes}


# A run stops once no write of its record has succeeded for this many seconds, because the
# API server is unreachable or rejects the record. Other clients count such a run as
# abandoned after `liveness.STALE_SECONDS` without a heartbeat anyway.
LOST_AFTER_SECONDS = 60.0
# Attempts of one record write; each attempt is one request with the cluster client's retries.
WRITE_ATTEMPTS = 3


class RecordWriter:
    """Writer of one run record: on change, at most once per `interval` seconds, plus a final write.

    `snapshot` returns the record as a dict and must copy it under the runner's lock, as
    `NodeBook.snapshot` does. The writer masks it before each write. When the record is too
    large to store, the writer sets `too_large` to the reason, calls `on_too_large` with it
    once, and from then on stores the record as `shrink_record` returns it. When no write has
    succeeded for `lost_after` seconds, it sets `lost` to the reason and calls `on_lost` with
    it once. `failure` is the error of the latest write, or None when it succeeded.
    """

    def __init__(
        self,
        store: RecordStore,
        snapshot: Callable[[], dict[str, Any]],
        masker: Masker,
        *,
        interval: float = WRITE_INTERVAL_SECONDS,
        heartbeat: float | None = None,
        on_too_large: Callable[[str], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
        lost_after: float = LOST_AFTER_SECONDS,
    ) -> None:
        self.store = store
        self.snapshot = snapshot
        self.masker = masker
        self.interval = interval
        self.heartbeat = heartbeat  # seconds between writes when nothing changes; None: no limit
        self.on_too_large = on_too_large
        self.on_lost = on_lost
        self.lost_after = lost_after
        self.too_large: str | None = None
        self.lost: str | None = None
        self.failure: str | None = None
        self.writes = 0
        self._saved_at = time.monotonic()
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="record-writer", daemon=True)

    def begin(self, *, new: bool) -> None:
        """Store the run's first record, before anything of the run starts.

        A new run's record is created, never replaced, so a run whose name is taken raises
        RunExists; a retried run's record is replaced. Raises WorkflowError when the record
        cannot be stored, so that no run goes on unrecorded.
        """
        data = self.masker.mask_data(self.snapshot())
        try:
            if new:
                self.store.create(data)
            else:
                self.store.save(data)
        except ApiError as failed:
            raise WorkflowError(
                f"run {data['name']} did not start: storing its record failed: {failed}"
            ) from None
        self.writes += 1
        self._saved_at = time.monotonic()

    def start(self) -> None:
        """Start writing the record in the background as it changes."""
        self._thread.start()

    def changed(self) -> None:
        self._dirty.set()

    def close(self) -> None:
        """Stop the writer thread and write the final state (one attempt once `lost`)."""
        self._closed.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join()
        self.write(attempts=1 if self.lost else WRITE_ATTEMPTS)

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait(self.heartbeat)
            if self._closed.is_set():
                return
            self._dirty.clear()
            # The thread must outlive a failed write, so that later changes are written.
            try:
                self.write()
            except Exception:
                log.exception("writing the run record failed")
            time.sleep(self.interval)

    def write(self, *, attempts: int = WRITE_ATTEMPTS) -> None:
        """Store the current record now, shrunk once it proved too large to store whole."""
        data = self.masker.mask_data(self.snapshot())
        if self.too_large is not None:
            data = shrink_record(data)
        try:
            self._save(data, attempts)
        except RecordTooLarge as failure:
            if self.too_large is not None:
                log.error("%s; even without node inputs and outputs it is not stored", failure)
                return
            self.too_large = str(failure)
            log.error("%s; storing it without node inputs and outputs from now on", failure)
            if self.on_too_large is not None:
                self.on_too_large(self.too_large)
            self.write(attempts=attempts)

    def _save(self, data: dict[str, Any], attempts: int) -> None:
        name = data["name"]
        for attempt in range(1, attempts + 1):
            try:
                self.store.save(data)
            except ApiError as failed:
                self.failure = str(failed)
                log.warning(
                    "writing run record %s failed (attempt %d/%d): %s",
                    name,
                    attempt,
                    attempts,
                    failed,
                )
                if self._check_lost(name):
                    return  # the final write after the run stopped is the one left to try
                if attempt < attempts:
                    time.sleep(0.5 * attempt)
                continue
            self.writes += 1
            self.failure = None
            self._saved_at = time.monotonic()
            return

    def _check_lost(self, name: str) -> bool:
        """Set `lost` once no write has succeeded for `lost_after` seconds; return True then."""
        silent = time.monotonic() - self._saved_at
        if self.lost is None and silent >= self.lost_after:
            self.lost = f"no write of its record succeeded for {silent:.0f} s ({self.failure})"
            log.error("run %s: %s; stopping the run", name, self.lost)
            if self.on_lost is not None:
                self.on_lost(self.lost)
        return self.lost is not None
