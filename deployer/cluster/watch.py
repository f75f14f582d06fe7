"""List-then-watch that survives the server closing the stream.

A watch starts from a list's resourceVersion, requests bookmarks, resumes from the last
version it saw when the connection ends, and lists again after 410 Gone (yielding
DELETED for objects that vanished meanwhile). Setting the `stop` event shuts the open
connection down, so a waiting thread returns at once instead of at the server timeout.
`LatestEvents` queues events from watch threads for a consumer that needs only the
newest state of each object.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Hashable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import urllib3

from deployer.cluster.discovery import ResourceInfo
from deployer.cluster.kube import ApiException
from deployer.cluster.retry import Transient, backoff_seconds
from deployer.errors import ApiError, ReadinessTimeout

if TYPE_CHECKING:
    from deployer.cluster.client import Cluster

log = logging.getLogger(__name__)

SERVER_TIMEOUT_SECONDS = 290  # the server ends each watch request after this; we resume
STOP_CHECK_SECONDS = 0.2  # how often the closer thread looks at the stop event
Event = tuple[str, dict[str, Any]]
Item = TypeVar("Item")


class Gone(Exception):
    """The requested resourceVersion is too old (HTTP 410); list again."""


class Watch:
    """One resumable watch over a resource in one namespace (or cluster-wide)."""

    def __init__(
        self,
        cluster: Cluster,
        info: ResourceInfo,
        namespace: str | None,
        *,
        label_selector: str | None,
        field_selector: str | None,
        stop: threading.Event,
        timeout_seconds: float | None,
    ) -> None:
        self.cluster = cluster
        self.info = info
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.stop = stop
        self.deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        self.known: set[tuple[str, str]] = set()
        self.subject = f"watch of {info.plural}" + (
            f" in namespace {namespace}" if namespace else ""
        )

    def events(self, resource_version: str | None) -> Iterator[Event]:
        """Yield events until stopped or timed out (see Cluster.watch)."""
        if resource_version is None:
            resource_version = yield from self._relist()
        failures = 0
        while not self._finished():
            try:
                for event in self._stream(resource_version):
                    failures = 0
                    version = (event[1].get("metadata") or {}).get("resourceVersion")
                    resource_version = str(version or resource_version)
                    if event[0] != "BOOKMARK":
                        yield event
            except Gone:
                resource_version = yield from self._relist()
            except Transient as failure:
                failures += 1
                if self._finished():
                    return
                delay = backoff_seconds(failures, failure.retry_after)
                log.warning("%s failed: %s; resuming in %.1f s", self.subject, failure, delay)
                self.stop.wait(delay)

    def _finished(self) -> bool:
        expired = self.deadline is not None and time.monotonic() >= self.deadline
        return self.stop.is_set() or expired

    def _relist(self) -> Generator[Event, None, str]:
        items, version = self.cluster.list(
            self.info.api_version,
            self.info.kind,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        present = {_key(item) for item in items}
        for namespace, name in sorted(self.known - present):
            yield "DELETED", _stub(self.info, namespace, name)
        self.known = present
        for item in items:
            yield "ADDED", item
        return version

    def _query(self, resource_version: str) -> list[tuple[str, str]]:
        seconds = SERVER_TIMEOUT_SECONDS
        if self.deadline is not None:
            seconds = max(1, min(seconds, int(self.deadline - time.monotonic()) + 1))
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(seconds)),
        ]
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        if self.field_selector:
            query.append(("fieldSelector", self.field_selector))
        return query

    def _open(self, resource_version: str) -> urllib3.BaseHTTPResponse:
        try:
            return self.cluster.transport.open(
                "GET",
                self.info.path(self.namespace),
                query=self._query(resource_version),
                timeout=(10.0, SERVER_TIMEOUT_SECONDS + 30.0),
            )
        except ApiException as failure:
            if failure.status == 410:
                raise Gone() from None
            error = self.cluster.transport.classify(
                failure, subject=self.subject, secret=False, applying=False
            )
            raise error from None
        except (urllib3.exceptions.HTTPError, OSError) as failure:
            raise Transient(0, str(failure)) from None

    def _stream(self, resource_version: str) -> Iterator[Event]:
        response = self._open(resource_version)
        finished = threading.Event()
        closer = threading.Thread(
            target=_close_on_stop, args=(response, self.stop, finished), daemon=True
        )
        closer.start()
        try:
            for line in response:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError as torn:
                    # A line cut short (the connection shut on stop, or broken) ends the
                    # stream as a broken connection does.
                    if self.stop.is_set():
                        return
                    raise Transient(0, f"stream ended inside an event: {torn}") from None
                yield self._decode(event)
        except (urllib3.exceptions.HTTPError, OSError) as failure:
            if not self.stop.is_set():
                raise Transient(0, f"stream ended: {failure}") from None
        finally:
            finished.set()
            response.release_conn()

    def _decode(self, event: dict[str, Any]) -> Event:
        kind = str(event.get("type") or "")
        obj: dict[str, Any] = event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise ApiError(f"{self.subject} failed: {obj.get('message')}", status=obj.get("code"))
        if kind == "DELETED":
            self.known.discard(_key(obj))
        elif kind in ("ADDED", "MODIFIED"):
            self.known.add(_key(obj))
        return kind, obj


def _close_on_stop(
    response: urllib3.BaseHTTPResponse, stop: threading.Event, finished: threading.Event
) -> None:
    while not finished.wait(STOP_CHECK_SECONDS):
        if stop.is_set():
            # Raises when the connection already went back to the pool; nothing to close then.
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                response.shutdown()
            return


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _stub(info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": info.api_version, "kind": info.kind, "metadata": meta}


class LatestEvents(Generic[Item]):
    """A FIFO queue of watch events that keeps only the newest snapshot of each object.

    `put` with a key replaces a queued snapshot of the same key in place, so a consumer
    that falls behind keeps one event per object rather than every state it went
    through. Only snapshots replace snapshots: a deletion, or an item put without a key,
    is queued as it comes, and a snapshot that follows a queued deletion of its object
    is queued behind it.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._items: OrderedDict[int, tuple[Hashable | None, Item]] = OrderedDict()
        self._snapshot_slots: dict[Hashable, int] = {}  # key -> slot of its queued snapshot
        self._slots = itertools.count()
        self.replaced = 0  # snapshots dropped because a newer one replaced them

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def put(self, item: Item, key: Hashable | None = None, *, snapshot: bool = True) -> None:
        """Queue `item`; with a `key` and `snapshot`, replace the key's queued snapshot."""
        with self._ready:
            slot = self._snapshot_slots.get(key) if key is not None and snapshot else None
            if slot is not None:
                self._items[slot] = (key, item)
                self.replaced += 1
                return
            slot = next(self._slots)
            self._items[slot] = (key, item)
            if key is not None:
                if snapshot:
                    self._snapshot_slots[key] = slot
                else:
                    self._snapshot_slots.pop(key, None)
            self._ready.notify()

    def get(self, timeout: float) -> Item:
        """Remove and return the oldest item; raise queue.Empty after `timeout` seconds."""
        with self._ready:
            if not self._ready.wait_for(lambda: bool(self._items), timeout):
                raise queue.Empty
            slot, (key, item) = self._items.popitem(last=False)
            if key is not None and self._snapshot_slots.get(key) == slot:
                del self._snapshot_slots[key]
            return item


def wait_gone(
    cluster: Cluster,
    info: ResourceInfo,
    namespace: str | None,
    names: set[str],
    *,
    timeout_seconds: float,
    stop: threading.Event | None = None,
) -> None:
    """Block until none of `names` exists in `namespace`; ReadinessTimeout if some remain."""
    remaining = set(names)
    stop = stop or threading.Event()
    selector = f"metadata.name={next(iter(names))}" if len(names) == 1 else None

    watch = Watch(
        cluster,
        info,
        namespace,
        label_selector=None,
        field_selector=selector,
        stop=stop,
        timeout_seconds=timeout_seconds,
    )
    items, version = cluster.list(info.api_version, info.kind, namespace, field_selector=selector)
    watch.known = {_key(item) for item in items}
    remaining &= {name for _, name in watch.known}

    try:
        if not remaining:
            return
        for kind, obj in watch.events(version):
            if kind == "DELETED":
                remaining.discard(_key(obj)[1])
            if not remaining:
                return
    finally:
        stop.set()

    where = f" in namespace {namespace}" if namespace else ""
    left = ", ".join(sorted(remaining))
    raise ReadinessTimeout(
        f"{info.kind} {left}{where} still exists after {timeout_seconds:.0f} s of waiting for "
        "its deletion; check its finalizers"
    )
