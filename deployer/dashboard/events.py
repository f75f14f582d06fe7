"""A watched cache of run records and the fan-out of their changes to dashboard clients.

`RunFeed` lists the run-record ConfigMaps (label `deployer.dev/record=run` in namespace
`deployer-runs`), then watches them from the list's resourceVersion. It keeps the decoded
RunRecords in memory and hands every change to each subscriber's queue, so the HTTP server
serves requests from the cache and streams changes as server-sent events without polling.

The watch resumes by itself after dropped connections and never reports them, so a
second thread reads one small object every PROBE_SECONDS to learn whether the API server
still responds. When it does not, the feed reports itself disconnected (a `status` change)
and lists again every RETRY_SECONDS until a list succeeds.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deployer.engine.workflow.record import RECORD_LABEL, RECORD_NAMESPACE, record_from_configmap
from deployer.errors import DeployerError, WorkflowError
from deployer.model.run import RunRecord, now_rfc3339

log = logging.getLogger(__name__)

RECORD_SELECTOR = f"{RECORD_LABEL}=run"
# Seconds to wait before listing again after the list or the watch failed.
RETRY_SECONDS = 2.0
# Seconds between reads that check that the API server still responds while watching.
PROBE_SECONDS = 5.0
# Maximum changes queued for one subscriber. A client that falls further behind is disconnected.
SUBSCRIBER_QUEUE_SIZE = 1000

UPDATED = "run"
DELETED = "deleted"
STATUS = "status"


@dataclass(frozen=True)
class Change:
    """One change: a run added or updated (`run`) or removed (`deleted`), or `status`.

    A `status` change has no run name or record; `connection` is the feed's new
    connection state (see `RunFeed.connection`).
    """

    id: int
    kind: str
    name: str
    record: RunRecord | None
    connection: Mapping[str, Any] | None = None


class Subscription:
    """The queue of changes of one client, closed when the feed closes or the client lags."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Change | None] = queue.Queue(SUBSCRIBER_QUEUE_SIZE)
        self.closed = False

    def put(self, change: Change | None) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(change)
        except queue.Full:
            log.warning(
                "a dashboard client fell %d changes behind; closing its stream",
                SUBSCRIBER_QUEUE_SIZE,
            )
            self.closed = True

    def next(self, timeout: float) -> Change | None:
        """Return the next change, or None when none came within `timeout` seconds.

        Raises EOFError once the subscription is closed.
        """
        if self.closed:
            raise EOFError("subscription closed")
        try:
            change = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if change is None:
            self.closed = True
            raise EOFError("subscription closed")
        return change


class RunFeed:
    """Run records of one cluster, kept current by a watch in a background thread."""

    def __init__(self, cluster: Any, *, namespace: str = RECORD_NAMESPACE) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self._records: dict[str, RunRecord] = {}
        self._versions: dict[str, str] = {}  # resourceVersion of each cached ConfigMap
        self._subscribers: list[Subscription] = []
        self._lock = threading.Lock()
        self._next_id = 1
        self._synced = threading.Event()
        self._settled = threading.Event()  # set once the first list has loaded or failed
        self.error: DeployerError | None = None  # the last failure of the list or the watch
        self._connected = False  # True from a successful list until the API server fails
        self._state_since: str | None = None  # when `_connected` last changed, RFC 3339
        self._stop = threading.Event()
        self._watch_stop = threading.Event()  # ends the current watch, so the loop lists again
        self._thread = threading.Thread(target=self._loop, name="dashboard-feed", daemon=True)
        self._probe = threading.Thread(target=self._probe_loop, name="dashboard-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._probe.start()

    def wait_synced(self, timeout: float) -> bool:
        """Block until the first list loads or fails, at most `timeout` seconds.

        Returns True when the list loaded. After a failure `error` contains the cause.
        """
        self._settled.wait(timeout)
        return self._synced.is_set()

    def close(self) -> None:
        """Stop the watch and end every subscription."""
        self._stop.set()
        self._watch_stop.set()
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscription in subscribers:
            subscription.put(None)
        for thread in (self._thread, self._probe):
            if thread.is_alive():
                thread.join(timeout=5.0)

    @property
    def connected(self) -> bool:
        """True while the last list succeeded and the API server has responded since."""
        with self._lock:
            return self._connected

    def connection(self) -> dict[str, Any]:
        """Return the connection state: `connected`, the `error` if not, and `since` when.

        `since` is the RFC 3339 time at which the feed connected or lost the API server.
        """
        with self._lock:
            return self._connection()

    def _connection(self) -> dict[str, Any]:
        error = None if self._connected or self.error is None else str(self.error)
        return {"connected": self._connected, "error": error, "since": self._state_since}

    def _set_connected(self, connected: bool, error: DeployerError | None = None) -> None:
        """Record a successful list or a failure, and publish a `status` change if it is one."""
        with self._lock:
            if error is not None:
                self.error = error
            if connected == self._connected:
                return
            recovered = connected and self._state_since is not None
            self._connected = connected
            self._state_since = now_rfc3339()
            self._publish(STATUS, "", None, connection=self._connection())
        if recovered:
            log.info("listed the run records in namespace %s again", self.namespace)
        elif not connected:
            log.warning(
                "run records in namespace %s may be out of date: %s; the API returns 503 "
                "and the records are listed again every %.0f s until that succeeds",
                self.namespace,
                error,
                RETRY_SECONDS,
            )

    def runs(self) -> list[RunRecord]:
        """Return the cached runs, newest start first."""
        with self._lock:
            records = list(self._records.values())
        return sorted(records, key=lambda r: (r.started or "", r.name), reverse=True)

    def get(self, name: str) -> RunRecord | None:
        with self._lock:
            return self._records.get(name)

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """Register a subscriber for the duration of the `with` block."""
        subscription = Subscription()
        with self._lock:
            self._subscribers.append(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                if subscription in self._subscribers:
                    self._subscribers.remove(subscription)

    def apply(self, kind: str, obj: Mapping[str, Any]) -> Change | None:
        """Update the cache from one watch event and publish the change, if it is one."""
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            return None
        if kind == "DELETED":
            return self._remove(name)
        if kind not in ("ADDED", "MODIFIED"):
            return None
        version = str(meta.get("resourceVersion") or "")
        with self._lock:
            if version and self._versions.get(name) == version:
                return None  # a relist repeats objects that did not change
        try:
            record = record_from_configmap(obj)
        except WorkflowError as bad:
            log.warning("skipping unreadable run record: %s", bad)
            return None
        with self._lock:
            self._records[name] = record
            self._versions[name] = version
            return self._publish(UPDATED, name, record)

    def replace(self, items: list[dict[str, Any]]) -> None:
        """Load a full list: drop runs that are gone and apply every listed object."""
        present = {str((item.get("metadata") or {}).get("name") or "") for item in items}
        with self._lock:
            gone = [name for name in self._records if name not in present]
        for name in gone:
            self._remove(name)
        for item in items:
            self.apply("ADDED", item)

    def _remove(self, name: str) -> Change | None:
        with self._lock:
            self._versions.pop(name, None)
            if self._records.pop(name, None) is None:
                return None
            return self._publish(DELETED, name, None)

    def _publish(
        self,
        kind: str,
        name: str,
        record: RunRecord | None,
        *,
        connection: Mapping[str, Any] | None = None,
    ) -> Change:
        """Number a change and queue it for every subscriber. Call with the lock held."""
        change = Change(self._next_id, kind, name, record, connection)
        self._next_id += 1
        for subscription in self._subscribers:
            subscription.put(change)
        self._subscribers = [s for s in self._subscribers if not s.closed]
        return change

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._list_and_watch()
            except DeployerError as failed:
                if not self._synced.is_set():
                    log.warning(
                        "listing run records in namespace %s failed: %s; listing again in %.0f s",
                        self.namespace,
                        failed,
                        RETRY_SECONDS,
                    )
                # Later failures are logged once per outage, when the state changes.
                self._set_connected(False, failed)
                self._settled.set()
                self._stop.wait(RETRY_SECONDS)

    def _list_and_watch(self) -> None:
        watch_stop = threading.Event()
        self._watch_stop = watch_stop
        if self._stop.is_set():
            return
        items, version = self.cluster.list(
            "v1", "ConfigMap", self.namespace, label_selector=RECORD_SELECTOR
        )
        self.replace(items)
        self._set_connected(True)
        self._synced.set()
        self._settled.set()
        log.info(
            "listed %d run records in namespace %s; watching them for changes",
            len(items),
            self.namespace,
        )
        events = self.cluster.watch(
            "v1",
            "ConfigMap",
            self.namespace,
            label_selector=RECORD_SELECTOR,
            resource_version=version,
            stop=watch_stop,
        )
        for kind, obj in events:
            self.apply(kind, obj)

    def _probe_loop(self) -> None:
        """Read the records' Namespace every PROBE_SECONDS while connected.

        A failed read (after the cluster client's own retries) marks the feed disconnected
        and ends the watch, so `_loop` lists again until the API server responds.
        """
        while not self._stop.wait(PROBE_SECONDS):
            if not self.connected:
                continue
            try:
                self.cluster.get("v1", "Namespace", self.namespace)
            except DeployerError as failed:
                self._set_connected(False, failed)
                self._watch_stop.set()


def format_event(event: str, data: Any, event_id: int | None = None) -> bytes:
    """Encode one server-sent event: optional `id`, the `event` name and JSON `data`."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    # Compact JSON has no raw newlines, so one `data:` line carries the whole value.
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()
