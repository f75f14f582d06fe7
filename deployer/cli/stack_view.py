"""Progress output of `deployer up`: task phases and object states, live or as lines.

On a terminal `LiveTasks` redraws a table of tasks and one of objects. Elsewhere
`StackPrinter` prints one line per task phase change and `ObjectPrinter` one per object
state change. Object events come from the apply engine through the runner, which masks
secret parameter values. Their messages come from readiness rules and API errors, which
carry no Secret data.

With `deployer -q` these views print nothing, and `print_summary` prints one line.
"""

from __future__ import annotations

import threading
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from deployer.cli.object_table import ObjectTable, split_step
from deployer.cli.progress import event_line, quiet_requested
from deployer.model.events import ObjectEvent
from deployer.model.run import DONE_PHASES, NodeRecord

# Node types of the tasks that deploy or check objects; their changes are printed.
TASK_NODE_TYPES = frozenset({"Manifests", "Helm", "Jsonnet", "Fixture", "Skipped"})

# Console width, in columns, when stdout is not a terminal (CI logs, pipes). Rich falls
# back to 80 columns there and would cut or fold cells such as run names.
PIPE_WIDTH = 1000


def output_console() -> Console:
    """Return a console for tables: the terminal's width, else wide enough for every cell.

    Markup is off, so names and messages from files and the cluster print as written.
    """
    console = Console(highlight=False, soft_wrap=True, markup=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


class TaskPrinter:
    """Print one line whenever a deployer-kind task of a run changes phase."""

    def __init__(self, workflow: str, *, quiet: bool = False) -> None:
        self.workflow = workflow
        self.quiet = quiet
        self.seen: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, node: NodeRecord) -> None:
        if node.type not in TASK_NODE_TYPES or self.quiet:
            return
        with self.lock:
            if self.seen.get(node.id) == node.phase:
                return
            self.seen[node.id] = node.phase
            line = f"[{self.workflow}] {node.display_name}  {node.phase}"
            if node.message and node.phase in DONE_PHASES:
                line += f"  {node.message}"
            click.echo(line)


class StackPrinter:
    """Route node changes to a TaskPrinter named after the run's workflow."""

    def __init__(self) -> None:
        self.printers: dict[str, TaskPrinter] = {}
        # Read here, because the runner calls from threads where click's context is unset.
        self.quiet = quiet_requested()

    def __call__(self, node: NodeRecord) -> None:
        run = node.name.split(".", 1)[0]
        printer = self.printers.setdefault(run, TaskPrinter(run, quiet=self.quiet))
        printer(node)


class ObjectPrinter:
    """Print one line per object state change: `[run] task  Kind ns/name  state  reason`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.quiet = quiet_requested()  # see StackPrinter

    def __call__(self, event: ObjectEvent) -> None:
        if self.quiet:
            return
        run, task = split_step(event.step or "")
        with self.lock:
            click.echo(f"[{run}] {task}  {event_line(event)}")


class LiveTasks:
    """Tables of every task of the stack's runs and of their objects, redrawn in place.

    Used when stdout is a terminal. Call it with node changes, and `on_object` with the
    runs' object events. With `deployer -q` it draws nothing.
    """

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, str, str]] = {}
        self.objects = ObjectTable()
        self.lock = threading.Lock()
        self.quiet = quiet_requested()  # see StackPrinter
        self.live = Live(self._render(), console=Console(highlight=False), refresh_per_second=4)

    def __enter__(self) -> LiveTasks:
        if not self.quiet:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            self.live.__exit__(None, None, None)

    def __call__(self, node: NodeRecord) -> None:
        if node.type not in TASK_NODE_TYPES or self.quiet:
            return
        run = node.name.split(".", 1)[0]
        message = node.message if node.phase in DONE_PHASES else ""
        with self.lock:
            self.rows[node.id] = (run, node.display_name, node.phase, message)
            self.live.update(self._render())

    def on_object(self, event: ObjectEvent) -> None:
        if self.quiet:
            return
        self.objects(event)
        with self.lock:
            self.live.update(self._render())

    def _render(self) -> Group:
        return Group(self._table(), self.objects.render())

    def _table(self) -> Table:
        table = Table()
        for column in ("run", "task", "phase", "message"):
            table.add_column(column)
        for run, task, phase, message in self.rows.values():
            style = {"Succeeded": "green", "Failed": "bold red", "Error": "bold red"}.get(phase)
            table.add_row(Text(run), Text(task), Text(phase), Text(message), style=style)
        return table


def print_summary(summary: list[dict[str, Any]], *, seconds: float) -> None:
    """Print one row per workflow run, then every object or task that is not ready.

    With `deployer -q` the table is one line instead: the time and each run's phase.
    """
    console = output_console()
    if quiet_requested():
        runs = ", ".join(f"{row['run']} {row['phase']}" for row in summary)
        console.print(Text(f"stack up: {seconds:.1f} s, {len(summary)} run(s): {runs}"))
    else:
        console.print(_summary_table(summary, seconds=seconds))
    for row in summary:
        for problem in row["not_ready"]:
            console.print(f"not ready: {problem}")


def _summary_table(summary: list[dict[str, Any]], *, seconds: float) -> Table:
    table = Table(title=f"stack up: {seconds:.1f} s")
    for column in ("workflow", "run", "phase", "waves", "tasks", "objects", "seconds"):
        # Fold rather than cut names, because the run name is what `deployer retry` takes.
        table.add_column(column, overflow="fold")
    for row in summary:
        table.add_row(
            Text(row["workflow"]),
            Text(row["run"]),
            Text(row["phase"]),
            str(row["waves"]),
            f"{row['tasks_done']}/{row['tasks']}",
            str(row["objects"]),
            f"{row['seconds']:.1f}",
        )
    return table
