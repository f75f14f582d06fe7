"""The latest state of every object a workflow run deploys, as a rich table.

`deployer up` and `deployer submit --watch` feed it the runner's object events (see
`RunOptions.progress`) and draw it under their task or node view. Events are keyed by
node and object, so an object that two tasks touch gets a row per task.
"""

from __future__ import annotations

import threading

from rich.table import Table
from rich.text import Text

from deployer.cli.progress import STATE_STYLES, object_name
from deployer.model.events import ObjectEvent
from deployer.model.objects import ObjectRef


def split_step(step: str) -> tuple[str, str]:
    """Split an event's node name (`<run>.<task path>`) into the run and the task path."""
    run, _, task = step.partition(".")
    return run, task


class ObjectTable:
    """Latest event per node and object, usable as a ProgressSink from several threads."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, ObjectRef], ObjectEvent] = {}
        self.lock = threading.Lock()

    def __call__(self, event: ObjectEvent) -> None:
        with self.lock:
            self.events[(event.step or "", event.ref)] = event

    def render(self) -> Table:
        """Draw one row per object: run, task, object, state, reason and message."""
        table = Table()
        for column in ("run", "task", "object", "state", "reason", "message"):
            wrapped = column in ("object", "message")  # names and reasons stay whole
            table.add_column(column, overflow="fold" if wrapped else "ellipsis")
        with self.lock:
            events = list(self.events.values())
        for event in events:
            run, task = split_step(event.step or "")
            # Text cells, so rich prints brackets in names and messages instead of
            # reading them as markup.
            table.add_row(
                Text(run),
                Text(task),
                Text(object_name(event.ref)),
                Text(event.state.value),
                Text(event.reason),
                Text(event.message),
                style=STATE_STYLES.get(event.state),
            )
        return table
