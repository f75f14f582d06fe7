"""The read-only dashboard's HTTP server: one page, a JSON API and server-sent event streams.

Routes accept GET and HEAD. Every other method gets 405 with `Allow: GET, HEAD`, because
this version changes nothing.

- `/` the run list, `/runs/NAME` one run's node tree. Both are the one static page with the
  first view rendered on the server; the page's script then follows the event stream.
- `/api/runs` returns `{"runs": [...]}`, newest first. `/api/runs/NAME` returns one run with
  its nodes in tree order. An unknown run is a 404 with a JSON `error`. While the run
  records cannot be listed (see `RunFeed.connection`), both are a 503 with a JSON `error`.
- `/api/events` streams the run list (`snapshot`, `status`, then `run`, `deleted` and
  `status` events) and `/api/runs/NAME/events` streams one run the same way, as
  `text/event-stream`.

Responses come from the `RunFeed` cache, which a watch keeps current. The page's inline script
and style are allowed by hash in the Content-Security-Policy, so markup that slipped into a
page could not run a script. When bound to a loopback address the server serves only requests
whose Host is a loopback name, so a web page from elsewhere cannot read it by DNS rebinding.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import ipaddress
import json
import logging
import re
import socket
import urllib.parse
from importlib import resources
from typing import Any

from deployer.dashboard import views
from deployer.dashboard.events import DELETED, STATUS, Change, RunFeed, format_event
from deployer.errors import ApiError
from deployer.model.run import RunRecord

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8080
# Seconds between keep-alive comments on an idle event stream, so writes to a closed client fail.
KEEPALIVE_SECONDS = 15.0
# Seconds to wait for the first list of run records before giving up.
SYNC_TIMEOUT_SECONDS = 30.0
# Kubernetes object names: lowercase DNS subdomains of at most 253 characters.
RUN_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ALLOWED_METHODS = "GET, HEAD"


def load_template() -> str:
    """Read the page template shipped as package data."""
    return resources.files("deployer.dashboard").joinpath("static/index.html").read_text("utf-8")


def _source_hash(template: str, tag: str) -> str:
    found = re.search(rf"<{tag}>(.*?)</{tag}>", template, re.S)
    body = found.group(1) if found else ""
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def content_policy(template: str) -> str:
    """Return the Content-Security-Policy that allows only the template's own script and style."""
    return (
        "default-src 'none'; "
        f"script-src {_source_hash(template, 'script')}; "
        f"style-src {_source_hash(template, 'style')}; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def host_name(header: str) -> str:
    """Return the host part of a Host header: `[::1]:8080` -> `::1`, `a:80` -> `a`."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def not_found_message(name: str, namespace: str) -> str:
    return (
        f"run {name} not found in namespace {namespace}; "
        "list the runs at /api/runs or with `deployer list`"
    )


def status_data(connection: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Return a `status` event's data: the feed's connection state and the page's notice."""
    message = "" if connection["connected"] else disconnected_message(connection, namespace)
    return {**connection, "message": message}


def disconnected_message(connection: dict[str, Any], namespace: str) -> str:
    """Describe a lost connection to the API server, for the 503 body and the page."""
    return (
        f"cannot list the run records in namespace {namespace} since {connection['since']}: "
        f"{connection['error']}. The runs shown may be out of date; the dashboard keeps "
        "trying and shows them again when the API server responds."
    )


class DashboardServer(http.server.ThreadingHTTPServer):
    """The HTTP server, its run feed and the page template."""

    daemon_threads = True

    def __init__(self, address: str, port: int, feed: RunFeed) -> None:
        self.feed = feed
        self.template = load_template()
        self.policy = content_policy(self.template)
        self.check_host = is_loopback(address)
        self.serving = False
        if ":" in address:
            self.address_family = socket.AF_INET6
        super().__init__((address, port), DashboardHandler)

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        port = self.server_address[1]
        bracketed = f"[{host}]" if ":" in host else host
        return f"http://{bracketed}:{port}/"

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.serving = True
        super().serve_forever(poll_interval)

    def close(self) -> None:
        """Stop serving, end the event streams and the watch, and release the port."""
        self.feed.close()
        # `shutdown` waits for `serve_forever` to return, so it would block if that never ran.
        if self.serving:
            self.shutdown()
        self.server_close()


class DashboardHandler(http.server.BaseHTTPRequestHandler):
    """One request: a page, an API response or an event stream."""

    server: DashboardServer
    server_version = "deployer-dashboard"
    head_only = False  # True while handling HEAD, which sends GET's headers without the body

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        if self.server.check_host and host_name(self.headers.get("Host", "")) not in LOOPBACK_HOSTS:
            self._send_json(403, {"error": "Host header is not a loopback name; use 127.0.0.1"})
            return
        path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(part) for part in path.strip("/").split("/")]
        parts = [part for part in parts if part]
        self._route(parts)

    def do_HEAD(self) -> None:
        self.head_only = True
        self.do_GET()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Send 405 JSON for a method without a `do_` handler, other errors as the base does.

        BaseHTTPRequestHandler sends `501 Unsupported method` as HTML for such a method, but
        the dashboard is read-only, so every method other than GET and HEAD is not allowed.
        """
        if code != 501:
            super().send_error(code, message, explain)
            return
        error = (
            f"method {self.command} not allowed: the dashboard is read-only and accepts "
            "GET and HEAD only; use the deployer CLI to change runs"
        )
        self._send_json(405, {"error": error}, headers={"Allow": ALLOWED_METHODS})

    def _route(self, parts: list[str]) -> None:
        # The JSON routes fail while the cache may be stale. Pages show a notice instead, and
        # event streams send a `status` event.
        if parts[:2] == ["api", "runs"] and len(parts) <= 3 and not self._check_connected():
            return
        match parts:
            case []:
                self._send_list_page()
            case ["runs", name]:
                self._send_run_page(name)
            case ["api", "runs"]:
                summaries = [views.run_summary(run) for run in self.server.feed.runs()]
                self._send_json(200, {"runs": summaries})
            case ["api", "runs", name]:
                run = self._find(name)
                if run is not None:
                    self._send_json(200, views.run_detail(run))
            case ["api", "events"]:
                self._stream(None)
            case ["api", "runs", name, "events"]:
                if self._find(name) is not None:
                    self._stream(name)
            case _:
                self._send_json(404, {"error": f"no such path {self.path}; see /api/runs"})

    def _check_connected(self) -> bool:
        """Return True while the run records are current, else send a 503 JSON error."""
        connection = self.server.feed.connection()
        if connection["connected"]:
            return True
        message = disconnected_message(connection, self.server.feed.namespace)
        self._send_json(503, {"error": message, "since": connection["since"]})
        return False

    def _find(self, name: str) -> RunRecord | None:
        """Return the cached run, or send a 404 JSON error and return None."""
        run = self.server.feed.get(name) if RUN_NAME.match(name) else None
        if run is None:
            message = not_found_message(name, self.server.feed.namespace)
            self._send_json(404, {"error": message})
        return run

    def _send_list_page(self) -> None:
        summaries = [views.run_summary(run) for run in self.server.feed.runs()]
        self._send_page(200, run="", view=views.render_runs(summaries))

    def _send_run_page(self, name: str) -> None:
        run = self.server.feed.get(name) if RUN_NAME.match(name) else None
        if run is None:
            message = not_found_message(name, self.server.feed.namespace)
            self._send_page(404, run="", view=f"<p>{html.escape(message)}</p>")
            return
        self._send_page(200, run=name, view=views.render_run(views.run_detail(run)))

    def _send_page(self, status: int, *, run: str, view: str) -> None:
        feed = self.server.feed
        problem = status_data(feed.connection(), feed.namespace)["message"]
        page = views.render_page(self.server.template, run=run, view=view, problem=problem)
        body = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", self.server.policy)
        self._send_common_headers()
        self._write_body(body)

    def _send_json(self, status: int, data: Any, *, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._send_common_headers()
        self._write_body(body)

    def _write_body(self, body: bytes) -> None:
        if not self.head_only:
            self.wfile.write(body)

    def _send_common_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()

    def _stream(self, name: str | None) -> None:
        """Send a snapshot, then every change (of one run when `name` is given) until closed."""
        feed = self.server.feed
        # Subscribing before taking the snapshot means no change between the two is lost.
        with feed.subscribe() as subscription:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self._send_common_headers()
            if self.head_only:
                return
            try:
                self._write(format_event("snapshot", self._snapshot(name)))
                self._write(format_event(STATUS, status_data(feed.connection(), feed.namespace)))
                while True:
                    change = subscription.next(KEEPALIVE_SECONDS)
                    if change is None:
                        self._write(b": keep-alive\n\n")
                    elif change.kind == STATUS or name is None or change.name == name:
                        self._write(event_for(change, feed.namespace, detailed=name is not None))
            except EOFError:
                return  # The feed closed or this client fell behind, and EventSource reconnects.
            except (BrokenPipeError, ConnectionResetError):
                log.debug("event stream client %s disconnected", self.address_string())

    def _snapshot(self, name: str | None) -> dict[str, Any]:
        feed = self.server.feed
        if name is None:
            return {"runs": [views.run_summary(run) for run in feed.runs()]}
        run = feed.get(name)
        return views.run_detail(run) if run else {"name": name, "deleted": True}

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


def event_for(change: Change, namespace: str, *, detailed: bool) -> bytes:
    """Encode a change as a `run` event (summary or full detail), `deleted` or `status`.

    `namespace` is the run records' namespace, which a `status` event's notice names.
    """
    if change.kind == STATUS:
        return format_event(
            STATUS, status_data(dict(change.connection or {}), namespace), change.id
        )
    if change.kind == DELETED or change.record is None:
        return format_event(DELETED, {"name": change.name}, change.id)
    data = views.run_detail(change.record) if detailed else views.run_summary(change.record)
    return format_event(change.kind, data, change.id)


def create_server(
    cluster: Any,
    *,
    address: str = DEFAULT_ADDRESS,
    port: int = DEFAULT_PORT,
    sync_timeout: float = SYNC_TIMEOUT_SECONDS,
) -> DashboardServer:
    """Start the run feed on `cluster` and bind the server. The caller runs `serve_forever`.

    Port 0 picks a free port (see `DashboardServer.url`). Raises OSError when the port is
    taken, and ApiError when the first list of run records fails or takes longer than
    `sync_timeout` seconds. Later failures are retried in the background.
    """
    feed = RunFeed(cluster)
    feed.start()
    if not feed.wait_synced(sync_timeout):
        feed.close()
        cause = str(feed.error) if feed.error else f"no response within {sync_timeout:.0f} s"
        raise ApiError(
            f"listing run records in namespace {feed.namespace} failed: {cause}; check the "
            "kubeconfig and that this user may list and watch ConfigMaps there"
        ) from feed.error
    try:
        return DashboardServer(address, port, feed)
    except OSError:
        feed.close()
        raise
