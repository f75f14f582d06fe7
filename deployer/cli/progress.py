"""Progress output shared by the apply, workflow and stack commands.

Three views of the same ObjectEvent stream:
- plain: one line per object state change (kind, namespace/name, state, reason, message);
- json: one JSON object per line, for CI (`-o json`);
- waves are numbered from 1 in every view, as in `deployer plan`;
- live: a rich table redrawn in place, used when stdout is a terminal.
With `deployer -q` no view prints anything (see `quiet_requested`).
Messages come from readiness rules and API errors, which never carry Secret data.
Rich reads `[...]` in plain strings as markup, so every name, reason and message goes
into rich tables as a `Text`, which rich prints as it is.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from deployer.model.events import ObjectEvent, ProgressSink, discard
from deployer.model.objects import ObjectRef
from deployer.model.status import State

STATE_STYLES = {
    State.READY: "green",
    State.SKIPPED: "green",
    State.FAILED: "bold red",
    State.IN_PROGRESS: "yellow",
    State.TERMINATING: "magenta",
    State.DELETED: "dim",
}


def quiet_requested() -> bool:
    """Tell whether `deployer -q` was given, so that only errors and results are printed.

    Progress sinks check it when they are made, so commands need not pass it on. Call it
    in the command's thread: click keeps its context per thread.
    """
    context = click.get_current_context(silent=True)
    if context is None:
        return False
    settings = context.find_root().obj
    return isinstance(settings, dict) and bool(settings.get("quiet"))


def object_name(ref: ObjectRef) -> str:
    """Name an object for output: `Deployment.apps shop/carts` style, without the group."""
    where = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return f"{ref.kind} {where}"


def wave_number(wave: int | None) -> int | None:
    """Return the 1-based wave number that output shows, as `deployer plan` does.

    Events carry the 0-based wave index of the plan.
    """
    return None if wave is None else wave + 1


def event_line(event: ObjectEvent) -> str:
    """Format one event as a plain output line."""
    line = f"{object_name(event.ref)}  {event.state.value}"
    if event.reason:
        line += f"  {event.reason}"
    if event.message and event.message != event.reason:
        line += f": {event.message}"
    return line


def event_json(event: ObjectEvent) -> dict[str, Any]:
    """Return one event as the JSON object that `-o json` prints."""
    return {
        "type": "object",
        "group": event.ref.group,
        "kind": event.ref.kind,
        "namespace": event.ref.namespace,
        "name": event.ref.name,
        "state": event.state.value,
        "reason": event.reason,
        "message": event.message,
        "wave": wave_number(event.wave),
        "step": event.step,
        "time": event.at,
    }


class PlainView:
    """Print one line per event."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, event: ObjectEvent) -> None:
        with self.lock:
            print(event_line(event), file=self.stream, flush=True)


class JsonView:
    """Print one JSON object per event."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, event: ObjectEvent) -> None:
        with self.lock:
            print(json.dumps(event_json(event)), file=self.stream, flush=True)


class LiveView:
    """Keep a table with the latest state of every object and redraw it in place."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[ObjectRef, ObjectEvent] = {}
        self.lock = threading.Lock()
        self.live = Live(self._table(), console=console, refresh_per_second=8, transient=False)

    def __call__(self, event: ObjectEvent) -> None:
        with self.lock:
            self.rows[event.ref] = event
            self.live.update(self._table())

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("wave", "object", "state", "reason", "message"):
            table.add_column(column, overflow="fold" if column == "message" else "ellipsis")
        for event in self.rows.values():
            table.add_row(
                "" if event.wave is None else str(wave_number(event.wave)),
                Text(object_name(event.ref)),
                Text(event.state.value, style=STATE_STYLES.get(event.state, "")),
                Text(event.reason),
                Text(event.message),
            )
        return table


@contextmanager
def progress_view(output: str, *, stream: TextIO | None = None) -> Iterator[ProgressSink]:
    """Yield the sink for `output` ("text" or "json"); text is live on a terminal.

    With `deployer -q` the sink drops every event.
    """
    stream = stream or sys.stdout
    if quiet_requested():
        yield discard
        return
    if output == "json":
        yield JsonView(stream)
        return
    if not stream.isatty():
        yield PlainView(stream)
        return
    view = LiveView(Console(file=stream))
    with view.live:
        yield view
