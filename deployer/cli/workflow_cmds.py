"""Argo-style workflow verbs: submit, retry, list and get (the rest are in workflow_control).

Workflows run in the client process (`submit --detach` runs one in a background process).
Run records live in the cluster (namespace `deployer-runs`), so every command works from any
shell with the same kubeconfig. `submit`, `retry` and `watch` exit 0 when the run Succeeded
and 1 otherwise.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml
from rich.console import Console, Group
from rich.live import Live

from deployer.cli import workflow_view as view
from deployer.cli.object_table import ObjectTable
from deployer.cli.progress import quiet_requested
from deployer.cli.target import resolve_kubeconfig
from deployer.errors import WorkflowError
from deployer.model.run import NodeRecord, RunRecord

F = TypeVar("F", bound=Callable[..., Any])


def cluster_options(command: F) -> F:
    """Add kubectl's `--kubeconfig`, `--context` and `-n/--namespace` to a command."""
    command = click.option(
        "-n", "--namespace", default=None, help="Namespace for the run's pods (default: context's)."
    )(command)
    command = click.option("--context", default=None, help="Kubeconfig context to use.")(command)
    command = click.option("--kubeconfig", default=None, help="Path of the kubeconfig file.")(
        command
    )
    return command


class Target:
    """The cluster connection and record store of one command, opened on first use."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
        self.kubeconfig = resolve_kubeconfig(kubeconfig)
        self.context = context
        self.namespace = namespace

    @functools.cached_property
    def cluster(self) -> Any:
        from deployer.cluster.client import Cluster

        return Cluster.connect(kubeconfig=self.kubeconfig, context=self.context)

    @functools.cached_property
    def store(self) -> Any:
        from deployer.engine.workflow.record import ClusterRecordStore

        return ClusterRecordStore(self.cluster)

    def load(self, name: str) -> RunRecord:
        return self.store.load(name)  # type: ignore[no-any-return]


def parse_parameters(values: tuple[str, ...]) -> dict[str, str]:
    """Turn `-p NAME=VALUE` options into a dict; a missing `=` is a usage error."""
    parsed = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint="-p")
        parsed[name] = text
    return parsed


def exit_for(record: RunRecord) -> None:
    """Return when the run Succeeded; else raise WorkflowError, which the CLI exits 1 for."""
    if record.phase != "Succeeded":
        message = f": {record.message}" if record.message else ""
        raise WorkflowError(
            f"run {record.name} {record.phase.lower()}{message}; "
            f"see `deployer get {record.name}`, then `deployer retry {record.name}`"
        )


class LinePrinter:
    """Prints one line per node phase change (grouping nodes left out)."""

    def __init__(self) -> None:
        self.phases: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, node: NodeRecord) -> None:
        if node.type in view.GROUPING_TYPES:
            return
        with self.lock:
            if node.phase == "Pending" or self.phases.get(node.id) == node.phase:
                return
            self.phases[node.id] = node.phase
            click.echo(f"{node.name}  {node.phase}" + (f"  {node.message}" if node.message else ""))


class NamePrinter:
    """Prints the run name once, at the first node change: the run's record exists by then."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.printed = False
        self.lock = threading.Lock()

    def __call__(self, node: NodeRecord) -> None:
        with self.lock:
            if not self.printed:
                self.printed = True
                click.echo(self.name)


class Interrupted:
    """Ctrl-C handling of one run: the first stops the run, a second one terminates it."""

    def __init__(self) -> None:
        self.count = 0
        self.requested = 0  # how many of the interrupts were passed on to the runner

    def forward(self, runner: Any) -> None:
        """Pass the interrupts not yet handled on to `runner`."""
        while self.requested < self.count:
            self.requested += 1
            if self.requested == 1:
                click.echo("stopping the run; exit handlers still run", err=True)
                runner.stop("stop")
            else:
                click.echo("terminating the run; exit handlers are cancelled", err=True)
                runner.stop("terminate")


def run_in_thread(
    start: Callable[[Callable[[Any], None]], RunRecord],
    *,
    live: bool,
    objects: ObjectTable | None = None,
    output: str | None = None,
) -> RunRecord:
    """Run a workflow in a worker thread; Ctrl-C stops it (exit handlers still run).

    With `live`, the node tree is redrawn in place, with `objects` (the run's object
    states) drawn under it when given. After a Ctrl-C the run is waited for, its final
    phase is printed (and the record, for `output` json) and the command exits 130.
    """
    holder: dict[str, Any] = {}
    ready = threading.Event()
    finished = threading.Event()

    def keep(runner: Any) -> None:
        holder["runner"] = runner
        ready.set()

    def work() -> None:
        try:
            holder["record"] = start(keep)
        except BaseException as failure:  # re-raised in the main thread
            holder["error"] = failure
        finally:
            ready.set()
            finished.set()

    interrupts = Interrupted()
    thread = threading.Thread(target=work, name="workflow", daemon=True)
    thread.start()
    console = Console()
    with (
        Live(console=console, refresh_per_second=4, transient=False)
        if live
        else _nothing() as screen
    ):
        # NOTE: the loop waits on an Event, not on `thread.join`: on CPython 3.11 a
        # KeyboardInterrupt inside `Thread.join` can leave `is_alive()` False while the
        # thread still runs.
        while not finished.is_set():
            try:
                finished.wait(0.25)
            except KeyboardInterrupt:
                interrupts.count += 1
            if "runner" in holder:
                interrupts.forward(holder["runner"])
            if live and "runner" in holder and screen is not None:
                runner = holder["runner"]
                tree = view.rich_tree(runner.masked_snapshot())
                screen.update(Group(tree, objects.render()) if objects else tree)
    if live and not console.is_terminal:
        click.echo("")  # rich leaves the last frame without a line break when not on a terminal
    if "error" in holder:
        raise holder["error"]
    record: RunRecord = holder["record"]
    if interrupts.count:
        if output == "json":
            print_final(record, output)
        _exit_interrupted(record)
    return record


def _exit_interrupted(record: RunRecord) -> None:
    """Print how an interrupted run ended and exit 130, as for any command cut by Ctrl-C."""
    message = f": {record.message}" if record.message else ""
    click.echo(
        f"run {record.name} {record.phase.lower()}{message}; "
        f"see `deployer get {record.name}`, then `deployer retry {record.name}`",
        err=True,
    )
    raise click.exceptions.Exit(130)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def print_final(record: RunRecord, output: str | None) -> None:
    if output == "json":
        click.echo(json.dumps(record.to_dict(), indent=2))
    elif output != "name" and record.phase == "Succeeded":
        click.echo(
            f"run {record.name} {record.phase}" + (f": {record.message}" if record.message else "")
        )


@click.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-p",
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a workflow argument (repeatable).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Show the live node tree, and the state of each deployed object, while the run goes.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["name", "json"]),
    default=None,
    help="name: print only the run name; json: print the final record.",
)
@click.option("--detach", is_flag=True, help="Run in a background process and return at once.")
@click.option(
    "--templates-dir",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Extra folder of WorkflowTemplates for templateRef (repeatable).",
)
@click.option("--name", "run_name", default=None, hidden=True)
@cluster_options
def submit_cmd(
    file: Path,
    parameters: tuple[str, ...],
    watch: bool,
    output: str | None,
    detach: bool,
    templates_dir: tuple[Path, ...],
    run_name: str | None,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
) -> None:
    """Run the workflow in FILE from this client and record it in the cluster."""
    from deployer.engine.workflow.arguments import check_run_name, make_run_name
    from deployer.engine.workflow.submit import prepare, run_workflow

    given = parse_parameters(parameters)
    prepared = prepare(file, templates_dirs=templates_dir, parameters=given)
    target = Target(kubeconfig, context, namespace)
    run_ns = namespace or prepared.workflow.namespace or target.cluster.default_namespace
    name = run_name or make_run_name(prepared.workflow)
    check_run_name(name)
    if detach:
        from deployer.cli.workflow_detach import detach_submit

        detach_submit(
            target,
            file=file,
            parameters=parameters,
            templates_dirs=templates_dir,
            name=name,
            namespace=run_ns,
            output=output,
        )
        return
    listeners: list[Callable[[NodeRecord], None]] = []
    if output == "name":
        listeners.append(NamePrinter(name))
    elif not (watch or output or quiet_requested()):
        listeners.append(LinePrinter())
    objects = ObjectTable()

    def start(keep: Callable[[Any], None]) -> RunRecord:
        return run_workflow(
            target.cluster,
            prepared,
            namespace=run_ns,
            parameters=given,
            run_name=name,
            listeners=listeners,
            progress=objects,
            runner_ready=keep,
        )

    record = run_in_thread(start, live=watch, objects=objects if watch else None, output=output)
    print_final(record, output)
    exit_for(record)


def _check_abandoned(record: RunRecord, *, force: bool) -> None:
    """Raise unless the process that ran `record` is gone (or `force` is set)."""
    from deployer.engine.workflow import liveness

    if not liveness.abandoned(record) and not force:
        age = liveness.heartbeat_age(record) or 0.0
        raise WorkflowError(
            f"run {record.name} is still running in process {record.client} (heartbeat "
            f"{age:.0f} s ago); stop it with `deployer stop {record.name}`, or pass --force "
            "if that process is gone"
        )
    click.echo(f"run {record.name} was left {record.phase} by process {record.client}", err=True)


@click.command("retry")
@click.argument("run")
@click.option(
    "--watch",
    is_flag=True,
    help="Show the live node tree, and the state of each deployed object, while the run goes.",
)
@click.option("--force", is_flag=True, help="Retry a Running run even if its process may live.")
@click.option("-o", "--output", type=click.Choice(["name", "json"]), default=None)
@cluster_options
def retry_cmd(
    run: str,
    watch: bool,
    force: bool,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
) -> None:
    """Run RUN again, reusing the nodes that succeeded and re-running the rest."""
    from deployer.engine.workflow.record import CONTROLS
    from deployer.engine.workflow.submit import prepare_retry, retry_parameters, run_workflow

    target = Target(kubeconfig, context, namespace)
    previous = target.load(run)
    if previous.phase == "Succeeded":
        raise WorkflowError(f"run {run} already succeeded; submit the workflow again to rerun it")
    if not previous.done:
        _check_abandoned(previous, force=force)
    prepared = prepare_retry(previous)
    values = retry_parameters(previous, target.store)
    for control in CONTROLS:
        target.store.clear(run, control)
    listeners = [] if watch or output or quiet_requested() else [LinePrinter()]
    objects = ObjectTable()

    def start(keep: Callable[[Any], None]) -> RunRecord:
        return run_workflow(
            target.cluster,
            prepared,
            namespace=previous.namespace,
            parameters=values,
            previous=previous,
            listeners=listeners,
            progress=objects,
            runner_ready=keep,
        )

    record = run_in_thread(start, live=watch, objects=objects if watch else None, output=output)
    if output == "name":
        click.echo(record.name)
    print_final(record, output)
    exit_for(record)


@click.command("list")
@click.option("-o", "--output", type=click.Choice(["name", "json", "wide"]), default=None)
@cluster_options
def list_cmd(
    output: str | None, kubeconfig: str | None, context: str | None, namespace: str | None
) -> None:
    """List recorded runs, newest first."""
    runs = view.newest_first(Target(kubeconfig, context, namespace).store.list_runs())
    if namespace:
        runs = [r for r in runs if r.namespace == namespace]
    if output == "name":
        for run in runs:
            click.echo(run.name)
    elif output == "json":
        click.echo(
            json.dumps(
                [{k: v for k, v in r.to_dict().items() if k != "workflow"} for r in runs], indent=2
            )
        )
    else:
        for line in view.run_table(runs):
            click.echo(line)


@click.command("get")
@click.argument("run")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "wide"]), default=None)
@cluster_options
def get_cmd(
    run: str, output: str | None, kubeconfig: str | None, context: str | None, namespace: str | None
) -> None:
    """Show one run: its phase, parameters and node tree with phases and durations."""
    record = Target(kubeconfig, context, namespace).load(run)
    if output == "json":
        click.echo(json.dumps(record.to_dict(), indent=2))
        return
    if output == "yaml":
        click.echo(yaml.safe_dump(record.to_dict(), sort_keys=False))
        return
    for line in view.summary(record):
        click.echo(line)
    click.echo("")
    if sys.stdout.isatty() and output != "wide":
        Console().print(view.rich_tree(record))
        return
    for line in view.plain_tree(record, wide=output == "wide"):
        click.echo(line)


def register(group: click.Group) -> None:
    """Add the workflow commands to the `deployer` group."""
    from deployer.cli import workflow_control

    for command in (submit_cmd, retry_cmd, list_cmd, get_cmd, *workflow_control.COMMANDS):
        group.add_command(command)
