"""Dashboard parts that need no cluster: the record cache, event encoding and HTML escaping."""

from __future__ import annotations

import errno
import http.client
import json
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from deployer.cli.dashboard_cmds import listen_error
from deployer.dashboard import events, server, views
from deployer.dashboard.events import RunFeed, Subscription, format_event
from deployer.engine.workflow.record import encode_record
from deployer.errors import ApiError
from deployer.model.run import NodeRecord, RunRecord

SCRIPT = "<script>alert(1)</script>"


def make_record(name: str, *, phase: str = "Running", message: str = "") -> RunRecord:
    root = NodeRecord(
        id="n1",
        name=name,
        display_name=name,
        type="Steps",
        phase=phase,
        started="2026-01-01T00:00:00Z",
        children=["n2"],
    )
    child = NodeRecord(
        id="n2",
        name=f"{name}[0].say",
        display_name="say",
        type="Pod",
        phase=phase,
        started="2026-01-01T00:00:01Z",
        finished="2026-01-01T00:00:05Z",
        message=message,
        inputs={"text": message},
        parent="n1",
    )
    return RunRecord(
        name=name,
        namespace="default",
        workflow={},
        phase=phase,
        message=message,
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:01:05Z" if phase != "Running" else None,
        client="elsewhere:1",
        heartbeat="2026-01-01T00:00:00Z",
        root="n1",
        nodes={"n1": root, "n2": child},
    )


def configmap(record: RunRecord, version: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": record.name, "namespace": "deployer-runs", "resourceVersion": version}
    }
    body.update(encode_record(record.to_dict()))
    return body


class IdleCluster:
    """A stand-in cluster whose list returns fixed items and whose watch waits for stop."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def list(self, *args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        return self.items, "1"

    def watch(self, *args: Any, stop: threading.Event, **kwargs: Any) -> Iterator[Any]:
        stop.wait()
        return iter(())

    def get(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}


class ForbiddenCluster:
    """A stand-in cluster that rejects every list, as the API server does without RBAC."""

    def list(self, *args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        raise ApiError(
            "list of configmaps in namespace deployer-runs failed: forbidden", status=403
        )


def test_create_server_raises_when_list_fails() -> None:
    with pytest.raises(ApiError) as failed:
        server.create_server(ForbiddenCluster(), address="127.0.0.1", port=0, sync_timeout=10)
    assert "forbidden" in str(failed.value)
    assert "may list and watch ConfigMaps" in str(failed.value)


def test_format_event_is_one_sse_message() -> None:
    encoded = format_event("run", {"message": "two\nlines"}, 7).decode()
    assert encoded.endswith("\n\n")
    lines = encoded.rstrip("\n").split("\n")
    assert lines[0] == "id: 7"
    assert lines[1] == "event: run"
    assert json.loads(lines[2].removeprefix("data: ")) == {"message": "two\nlines"}
    assert len(lines) == 3


def test_feed_publishes_added_and_deleted_runs() -> None:
    feed = RunFeed(IdleCluster([]))
    record = make_record("alpha")
    with feed.subscribe() as subscription:
        feed.apply("ADDED", configmap(record, "5"))
        feed.apply("DELETED", {"metadata": {"name": "alpha"}})
        added = subscription.next(0.1)
        deleted = subscription.next(0.1)
    assert added is not None and added.kind == events.UPDATED
    assert added.record is not None and added.record.phase == "Running"
    assert deleted is not None and deleted.kind == events.DELETED
    assert deleted.id > added.id
    assert feed.get("alpha") is None


def test_feed_skips_unchanged_resource_version() -> None:
    feed = RunFeed(IdleCluster([]))
    record = make_record("alpha")
    assert feed.apply("ADDED", configmap(record, "5")) is not None
    assert feed.apply("MODIFIED", configmap(record, "5")) is None
    assert feed.apply("MODIFIED", configmap(record, "6")) is not None


def test_feed_replace_drops_runs_gone_from_list() -> None:
    feed = RunFeed(IdleCluster([]))
    feed.apply("ADDED", configmap(make_record("old"), "1"))
    feed.replace([configmap(make_record("new"), "2")])
    assert [run.name for run in feed.runs()] == ["new"]


def test_feed_ignores_unreadable_record() -> None:
    feed = RunFeed(IdleCluster([]))
    broken = {"metadata": {"name": "broken", "resourceVersion": "1"}, "data": {"x": "y"}}
    assert feed.apply("ADDED", broken) is None
    assert feed.runs() == []


def test_subscription_closes_when_queue_overflows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "SUBSCRIBER_QUEUE_SIZE", 2)
    subscription = Subscription()
    change = events.Change(id=1, kind=events.DELETED, name="x", record=None)
    for _ in range(3):
        subscription.put(change)
    with pytest.raises(EOFError):
        subscription.next(0.1)


def test_run_list_html_escapes_names_and_messages() -> None:
    summary = views.run_summary(make_record("alpha", phase="Failed", message=SCRIPT))
    summary["name"] = '"><script>x()</script>'
    rendered = views.render_runs([summary])
    assert "<script" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert 'href="/runs/&quot;&gt;&lt;script&gt;' in rendered


def test_run_tree_html_escapes_node_text() -> None:
    detail = views.run_detail(make_record("alpha", message=SCRIPT))
    rendered = views.render_run(detail)
    assert "<script" not in rendered
    assert rendered.count("&lt;script&gt;") == 3  # run message, node message, node input


def test_run_detail_lists_nodes_in_tree_order() -> None:
    detail = views.run_detail(make_record("alpha", phase="Succeeded"))
    assert [(node["displayName"], node["depth"]) for node in detail["nodes"]] == [
        ("alpha", 0),
        ("say", 1),
    ]
    assert detail["nodes"][1]["durationSeconds"] == 4.0
    assert detail["durationSeconds"] == 65.0
    assert "workflow" not in detail


def test_running_durations_rounded_to_tenths() -> None:
    detail = views.run_detail(make_record("alpha"))
    running = [detail["durationSeconds"], detail["nodes"][0]["durationSeconds"]]

    assert all(seconds == round(seconds, 1) for seconds in running)


def test_abandoned_running_run_is_marked() -> None:
    summary = views.run_summary(make_record("alpha"))
    assert summary["abandoned"] is True
    assert views.shown_phase(summary) == "Running (abandoned)"


def test_render_page_substitutes_markers_once() -> None:
    page = views.render_page("<b data-run='__RUN__'>__VIEW__</b>", run="a&b", view="__RUN__")
    assert page == "<b data-run='a&amp;b'>__RUN__</b>"


@pytest.mark.parametrize(
    ("seconds", "expected"), [(None, ""), (5.9, "5s"), (184, "3m4s"), (3720, "1h2m")]
)
def test_format_duration(seconds: float | None, expected: str) -> None:
    assert views.format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [("127.0.0.1:8080", "127.0.0.1"), ("[::1]:80", "::1"), ("localhost", "localhost")],
)
def test_host_name_of_host_header(header: str, expected: str) -> None:
    assert server.host_name(header) == expected


def test_content_policy_allows_only_the_page_script() -> None:
    template = server.load_template()
    policy = server.content_policy(template)
    hashes = re.findall(r"'sha256-[^']+'", policy)
    assert len(hashes) == 2
    assert "unsafe-inline" not in policy
    assert "__RUN__" not in re.search(r"<script>(.*?)</script>", template, re.S).group(1)  # type: ignore[union-attr]


@pytest.fixture
def served() -> Iterator[server.DashboardServer]:
    cluster = IdleCluster([configmap(make_record("alpha", message=SCRIPT), "1")])
    dashboard = server.create_server(cluster, address="127.0.0.1", port=0, sync_timeout=5)
    thread = threading.Thread(target=dashboard.serve_forever, daemon=True)
    thread.start()
    yield dashboard
    dashboard.close()
    thread.join(timeout=5)


def fetch(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as failed:
        with failed:
            return failed.code, failed.read()


def test_server_rejects_foreign_host_header(served: server.DashboardServer) -> None:
    status, _ = fetch(served.url + "api/runs", Host="attacker.example")
    assert status == 403


def test_server_rejects_writes(served: server.DashboardServer) -> None:
    request = urllib.request.Request(served.url + "api/runs/alpha", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=5)
    assert failed.value.code == 405
    failed.value.close()


def test_server_run_page_escapes_message(served: server.DashboardServer) -> None:
    status, body = fetch(served.url + "runs/alpha")
    page = body.decode()
    assert status == 200
    assert page.count("<script>") == 1  # the page's own script
    assert "&lt;script&gt;alert(1)" in page


def test_server_unknown_run_is_404_json(served: server.DashboardServer) -> None:
    status, body = fetch(served.url + "api/runs/missing")
    assert status == 404
    assert "run missing not found" in json.loads(body)["error"]


def head(url: str, method: str = "HEAD") -> tuple[int, http.client.HTTPMessage, bytes]:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status), response.headers, bytes(response.read())


@pytest.mark.parametrize("path", ["", "runs/alpha", "api/runs", "api/runs/alpha"])
def test_server_head_is_get_without_body(served: server.DashboardServer, path: str) -> None:
    status, headers, body = head(served.url + path)
    get_status, get_headers, get_body = head(served.url + path, "GET")

    assert status == get_status == 200
    assert body == b""
    assert get_body
    assert headers["Content-Type"] == get_headers["Content-Type"]
    # The duration of the running run grows between the two requests, so allow a digit more.
    assert abs(int(headers["Content-Length"]) - len(get_body)) <= 2


def test_server_head_of_event_stream_sends_headers_only(served: server.DashboardServer) -> None:
    status, headers, body = head(served.url + "api/events")

    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert body == b""


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "PUT", "PATCH", "DELETE", "PROPFIND"])
def test_server_rejects_other_methods(served: server.DashboardServer, method: str) -> None:
    host, port = served.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=5)
    try:
        connection.request(method, "/api/runs/alpha")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"
    assert response.getheader("Content-Type") == "application/json"
    error = json.loads(body)["error"]
    assert error.startswith(f"method {method} not allowed: the dashboard is read-only")


def test_server_answers_503_when_records_stale(served: server.DashboardServer) -> None:
    served.feed._set_connected(False, ApiError("connection to the API server failed: refused"))

    for path in ("api/runs", "api/runs/alpha"):
        status, body = fetch(served.url + path)
        data = json.loads(body)
        assert status == 503, path
        assert "cannot list the run records in namespace deployer-runs since" in data["error"]
        assert "connection to the API server failed: refused" in data["error"]
        assert data["since"]
    status, body = fetch(served.url)
    assert status == 200
    assert "connection to the API server failed: refused" in body.decode()
    assert "The runs shown may be out of date" in body.decode()


def test_server_page_has_no_notice_when_connected(served: server.DashboardServer) -> None:
    status, body = fetch(served.url)
    assert status == 200
    assert '<p id="cluster" role="alert"></p>' in body.decode()


def test_feed_publishes_status_changes() -> None:
    feed = RunFeed(IdleCluster([]))
    failure = ApiError("connection to the API server failed: refused")
    with feed.subscribe() as subscription:
        feed._set_connected(True)
        feed._set_connected(False, failure)
        feed._set_connected(False, failure)  # no change, so no event
        feed._set_connected(True)
        changes = [subscription.next(0.1) for _ in range(3)]
        assert subscription.next(0.1) is None
    states = [change.connection for change in changes if change is not None]
    assert [state["connected"] for state in states] == [True, False, True]
    assert states[1]["error"] == str(failure)
    assert states[2]["error"] is None
    assert all(change is not None and change.kind == events.STATUS for change in changes)


def test_status_event_carries_notice() -> None:
    change = events.Change(
        id=3,
        kind=events.STATUS,
        name="",
        record=None,
        connection={"connected": False, "error": "refused", "since": "2026-01-01T00:00:00Z"},
    )
    lines = server.event_for(change, "deployer-runs", detailed=False).decode().split("\n")
    data = json.loads(lines[2].removeprefix("data: "))
    assert lines[1] == "event: status"
    assert data["connected"] is False
    assert data["message"].startswith(
        "cannot list the run records in namespace deployer-runs since 2026-01-01T00:00:00Z: "
        "refused."
    )


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
            "cannot listen on 10.0.0.1:8080: 10.0.0.1 is not an address of this machine "
            "(Cannot assign requested address); pass one of its addresses to --address",
        ),
        (
            OSError(errno.EADDRINUSE, "Address already in use"),
            "cannot listen on 10.0.0.1:8080: the port is in use (Address already in use); "
            "choose another --port",
        ),
        (
            OSError(errno.EACCES, "Permission denied"),
            "cannot listen on 10.0.0.1:8080: permission denied (Permission denied); ports "
            "below 1024 need privileges",
        ),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "cannot listen on 10.0.0.1:8080: 10.0.0.1 is not an IP address or a host name",
        ),
    ],
)
def test_listen_error_names_cause(failure: OSError, expected: str) -> None:
    assert listen_error("10.0.0.1", 8080, failure).startswith(expected)


def test_listen_error_brackets_ipv6() -> None:
    failure = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    assert listen_error("2001:db8::7", 80, failure).startswith("cannot listen on [2001:db8::7]:80")
