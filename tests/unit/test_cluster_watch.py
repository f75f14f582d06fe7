"""The resumable watch driven by a stand-in transport: resume, 410 Gone, bookmarks, stop."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from deployer.cluster.discovery import ResourceInfo
from deployer.cluster.watch import LatestEvents, Watch

CONFIGMAPS = ResourceInfo("", "v1", "ConfigMap", "configmaps", True)


def _object(name: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": version},
    }


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


class Stream:
    """A finished watch response: its lines, then the end of the connection."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.lines)

    def release_conn(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class StandInTransport:
    """Serves one scripted response per watch request and records the query of each."""

    def __init__(self, responses: list[list[bytes]], stop: threading.Event) -> None:
        self.responses = responses
        self.queries: list[dict[str, str]] = []
        self.stop = stop

    def open(self, method: str, path: str, *, query: Any, **_: Any) -> Stream:
        self.queries.append(dict(query))
        if not self.responses:
            self.stop.set()
            return Stream([])
        return Stream(self.responses.pop(0))


class StandInCluster:
    """Lists from a scripted sequence of (items, resourceVersion) results."""

    def __init__(self, lists: list[tuple[list[dict[str, Any]], str]], transport: Any) -> None:
        self.lists = lists
        self.transport = transport
        self.list_calls = 0

    def list(self, *_: Any, **__: Any) -> tuple[list[dict[str, Any]], str]:
        self.list_calls += 1
        return self.lists.pop(0)


def _run(
    lists: list[tuple[list[dict[str, Any]], str]], responses: list[list[bytes]]
) -> tuple[list[tuple[str, str]], StandInCluster, StandInTransport]:
    stop = threading.Event()
    transport = StandInTransport(responses, stop)
    cluster = StandInCluster(lists, transport)
    watch = Watch(
        cluster,  # type: ignore[arg-type]
        CONFIGMAPS,
        "shop",
        label_selector=None,
        field_selector=None,
        stop=stop,
        timeout_seconds=10,
    )
    seen = [(kind, obj["metadata"]["name"]) for kind, obj in watch.events(None)]
    return seen, cluster, transport


def test_watch_lists_first_then_streams_from_list_version() -> None:
    seen, _, transport = _run(
        [([_object("a", "5")], "10")],
        [[_line("MODIFIED", _object("a", "11"))]],
    )
    assert seen == [("ADDED", "a"), ("MODIFIED", "a")]
    assert transport.queries[0]["resourceVersion"] == "10"
    assert transport.queries[0]["allowWatchBookmarks"] == "true"


def test_watch_resumes_from_last_seen_version() -> None:
    bookmark = {"kind": "ConfigMap", "metadata": {"resourceVersion": "20"}}
    _, _, transport = _run(
        [([], "10")],
        [[_line("ADDED", _object("b", "12")), _line("BOOKMARK", bookmark)], []],
    )
    assert [query["resourceVersion"] for query in transport.queries[:2]] == ["10", "20"]


def test_watch_relists_after_gone_and_reports_vanished() -> None:
    gone = {"kind": "Status", "code": 410, "message": "too old resource version"}
    seen, cluster, transport = _run(
        [([_object("a", "5"), _object("b", "6")], "10"), ([_object("b", "30")], "31")],
        [[_line("ERROR", gone)]],
    )
    assert cluster.list_calls == 2
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a"), ("ADDED", "b")]
    assert transport.queries[1]["resourceVersion"] == "31"


def test_watch_bookmarks_are_not_yielded() -> None:
    bookmark = {"kind": "ConfigMap", "metadata": {"resourceVersion": "20"}}
    seen, _, _ = _run([([], "10")], [[_line("BOOKMARK", bookmark)]])
    assert seen == []


def test_watch_resumes_after_cut_line() -> None:
    cut = _line("MODIFIED", _object("a", "13"))[:25]
    seen, _, transport = _run(
        [([], "10")],
        [[_line("ADDED", _object("a", "12")), cut], [_line("MODIFIED", _object("a", "14"))]],
    )
    assert seen == [("ADDED", "a"), ("MODIFIED", "a")]
    assert transport.queries[1]["resourceVersion"] == "12"


class StoppedMidLine(Stream):
    """A response whose connection is shut on stop, cutting its last line short."""

    def __init__(self, lines: list[bytes], stop: threading.Event) -> None:
        super().__init__(lines)
        self.stop = stop

    def __iter__(self) -> Iterator[bytes]:
        yield self.lines[0]
        self.stop.set()
        yield self.lines[1][:25]


def test_stop_ends_watch_on_cut_line() -> None:
    stop = threading.Event()
    lines = [_line("ADDED", _object("a", "12")), _line("MODIFIED", _object("a", "13"))]
    transport = StandInTransport([], stop)
    transport.open = lambda *_, **__: StoppedMidLine(lines, stop)  # type: ignore[method-assign]
    watch = Watch(
        StandInCluster([([], "10")], transport),  # type: ignore[arg-type]
        CONFIGMAPS,
        "shop",
        label_selector=None,
        field_selector=None,
        stop=stop,
        timeout_seconds=10,
    )
    seen = [(kind, obj["metadata"]["name"]) for kind, obj in watch.events(None)]
    assert seen == [("ADDED", "a")]


def _drain(events: LatestEvents[str]) -> list[str]:
    items = []
    while len(events):
        items.append(events.get(timeout=0))
    return items


def test_latest_events_replace_queued_snapshot_in_place() -> None:
    events: LatestEvents[str] = LatestEvents()
    events.put("a1", "a")
    events.put("b1", "b")
    events.put("a2", "a")
    assert _drain(events) == ["a2", "b1"]
    assert events.replaced == 1


def test_latest_events_queue_snapshot_after_taken_one() -> None:
    events: LatestEvents[str] = LatestEvents()
    events.put("a1", "a")
    assert events.get(timeout=0) == "a1"
    events.put("a2", "a")
    assert _drain(events) == ["a2"]
    assert events.replaced == 0


def test_latest_events_never_replace_deletions() -> None:
    events: LatestEvents[str] = LatestEvents()
    events.put("a1", "a")
    events.put("a deleted", "a", snapshot=False)
    events.put("a2", "a")
    events.put("a3", "a")
    assert _drain(events) == ["a1", "a deleted", "a3"]


def test_latest_events_keep_every_item_without_key() -> None:
    events: LatestEvents[str] = LatestEvents()
    events.put("error 1")
    events.put("error 2")
    assert _drain(events) == ["error 1", "error 2"]


def test_latest_events_get_times_out_when_empty() -> None:
    events: LatestEvents[str] = LatestEvents()
    with pytest.raises(queue.Empty):
        events.get(timeout=0.05)


def test_latest_events_wake_waiting_consumer() -> None:
    events: LatestEvents[str] = LatestEvents()
    threading.Timer(0.1, events.put, args=("late", "a")).start()
    assert events.get(timeout=5) == "late"
