"""Stack commands: `deployer up`, `down`, `status` and `catalog`.

A STACK argument is a stack file path or a name looked up as `<stacks dir>/<name>.yaml`
(`--stacks-dir`, default `./stacks`). The cluster follows kubectl's rules (`--kubeconfig`,
`KUBECONFIG`); `--context` wins over the stack's `spec.context`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from deployer.cli.progress import quiet_requested
from deployer.cli.stack_view import (
    LiveTasks,
    ObjectPrinter,
    StackPrinter,
    output_console,
    print_summary,
)
from deployer.cli.target import resolve_kubeconfig
from deployer.engine.stack import Stack, combine_problems, find_stack, load_stack, read_stack
from deployer.engine.stack_parameters import apply_overrides
from deployer.engine.workflow.masking import looks_secret
from deployer.engine.workflow.record import ClusterRecordStore
from deployer.errors import InputError, ObjectFailed
from deployer.model.events import ProgressSink
from deployer.model.run import NodeRecord, RunRecord

if TYPE_CHECKING:
    from deployer.engine.stack_run import TaskStatus

F = TypeVar("F", bound=Callable[..., Any])


def cluster_options(command: F) -> F:
    """Add the options every stack command shares."""
    command = click.option(
        "-p",
        "--parameter",
        "parameters",
        multiple=True,
        metavar="[ENTRY.]NAME=VALUE",
        help="Set a workflow parameter. NAME=VALUE sets it in every workflow of the stack "
        "that declares it (an error if the stack gives them different values); "
        "ENTRY.NAME=VALUE sets it in one workflow entry, named by its `name` or its file "
        "name without .yaml.",
    )(command)
    command = click.option(
        "--stacks-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("stacks"),
        show_default=True,
        help="Folder where stack names are looked up.",
    )(command)
    command = click.option("--context", help="Kubeconfig context; overrides spec.context.")(command)
    return click.option("--kubeconfig", help="Path of the kubeconfig file.")(command)


def open_stack(
    name: str, stacks_dir: Path, parameters: tuple[str, ...] = (), *, for_up: bool = False
) -> Stack:
    """Load the stack and apply `-p [ENTRY.]NAME=VALUE` overrides.

    Problems of the stack file and of the `-p` options raise one error that lists them
    all. For `up` (`for_up`) that error also lists the problems of the stack's workflows.
    """
    from deployer.engine.stack_run import prepare_stack

    overrides: dict[str, str] = {}
    for item in parameters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(
                f"{item!r}: write it as NAME=VALUE or ENTRY.NAME=VALUE", param_hint="-p"
            )
        overrides[key] = value
    loaded, problems = read_stack(find_stack(name, stacks_dirs=[stacks_dir]))
    loaded, override_problems = apply_overrides(loaded, overrides, check_names=not problems)
    problems += override_problems
    if problems:
        if for_up:
            prepare_stack(loaded, file_problems=problems)  # raises, listing every problem
        raise combine_problems(problems, file=str(loaded.file))
    return loaded


def connect(stack: Stack, kubeconfig: str | None, context: str | None) -> Any:
    from deployer.cluster.client import Cluster

    return Cluster.connect(
        kubeconfig=resolve_kubeconfig(kubeconfig), context=context or stack.context
    )


@click.command("up")
@click.argument("stack")
@cluster_options
def up_command(
    stack: str,
    kubeconfig: str | None,
    context: str | None,
    stacks_dir: Path,
    parameters: tuple[str, ...],
) -> None:
    """Bring a stack up: run its workflows in order, each wave waiting on readiness.

    Shows every task's phase and every object's state (kind, namespace/name, state,
    reason) as they change, then a summary that lists what is not ready and why.
    """
    from deployer.engine import stack_run, stack_summary

    loaded = open_stack(stack, stacks_dir, parameters, for_up=True)
    cluster = connect(loaded, kubeconfig, context)
    started = time.monotonic()
    view: Callable[[NodeRecord], None]
    progress: ProgressSink
    live: AbstractContextManager[Any]
    if sys.stdout.isatty():
        tasks = LiveTasks()
        view, progress, live = tasks, tasks.on_object, tasks
    else:
        view, progress, live = StackPrinter(), ObjectPrinter(), nullcontext()
    with live:
        runs = stack_run.up_stack(loaded, cluster, listeners=[view], progress=progress)
    summary = stack_summary.summarize(loaded, cluster, runs)
    print_summary(summary, seconds=time.monotonic() - started)
    failed = [run for run in runs if not run.succeeded]
    if failed or len(runs) < len(loaded.workflows):
        record = failed[0].record if failed else runs[-1].record
        reasons = "; ".join(
            f"{item['displayName']}: {item['message']}" for item in record.failures()
        )
        raise ObjectFailed(
            f"stack {loaded.name}: workflow run {record.name} failed: "
            f"{reasons or record.message}. Earlier waves stay in place; fix the cause and "
            f"continue with `deployer retry {record.name}`."
        )


@click.command("down")
@click.argument("stack")
@cluster_options
def down_command(
    stack: str,
    kubeconfig: str | None,
    context: str | None,
    stacks_dir: Path,
    parameters: tuple[str, ...],
) -> None:
    """Destroy a stack's objects: last workflow first, each in reverse dependency order."""
    from deployer.engine import stack_run

    loaded = open_stack(stack, stacks_dir, parameters)
    cluster = connect(loaded, kubeconfig, context)
    started = time.monotonic()
    prefixes = down_prefixes(loaded, ClusterRecordStore(cluster).list_runs())

    quiet = quiet_requested()  # read here: click's context is not visible in other threads

    def report(status: stack_run.TaskStatus) -> None:
        if status.phase != "Skipped" and not quiet:
            prefix = prefixes.get(status.workflow, status.workflow)
            click.echo(f"[{prefix}] {status.task}  Deleted  {status.message}")

    done = stack_run.down_stack(loaded, cluster, on_task=report)
    deleted = sum(1 for status in done if status.phase != "Skipped")
    seconds = time.monotonic() - started
    click.echo(f"stack down: {seconds:.1f} s, {deleted} task(s) of {loaded.name} destroyed")


def down_prefixes(stack: Stack, runs: Sequence[RunRecord]) -> dict[str, str]:
    """Map each workflow file name to the name of its last run, the line prefix of `up`.

    A workflow that has no recorded run keeps its file name as the prefix.
    """
    from deployer.engine.stack_run import last_run

    prefixes = {}
    for entry in stack.workflows:
        record = last_run(runs, entry)
        if record is not None:
            prefixes[entry.file.name] = record.name
    return prefixes


@click.command("status")
@click.argument("stack")
@cluster_options
def status_command(
    stack: str,
    kubeconfig: str | None,
    context: str | None,
    stacks_dir: Path,
    parameters: tuple[str, ...],
) -> None:
    """Show each workflow's last run and whether its objects are ready now.

    Exits 1 when a task is not deployed or any of its objects is not ready.
    """
    from deployer.engine import stack_run

    loaded = open_stack(stack, stacks_dir, parameters)
    cluster = connect(loaded, kubeconfig, context)
    console = output_console()
    all_ready = True
    for entry, (record, tasks) in zip(
        loaded.workflows, stack_run.stack_status(loaded, cluster), strict=True
    ):
        run = f"{record.name} {record.phase}" if record else "never run"
        console.print(f"{entry.file.name}: last run {run}")
        table = Table()
        for column in ("task", "kind", "last phase", "objects", "ready"):
            table.add_column(column)
        for task in tasks:
            all_ready = all_ready and not task.not_ready
            row = (task.task, task.kind, task.phase or "-", str(task.objects), ready_cell(task))
            table.add_row(*row)
        console.print(table)
        for task in tasks:
            for problem in task.not_ready:
                console.print(f"not ready: {problem}")
    if not all_ready:
        raise click.exceptions.Exit(1)


def ready_cell(task: TaskStatus) -> str:
    """Describe in words whether a task's objects are ready: the `ready` column of status."""
    if not task.not_ready:
        return "yes"
    if not task.deployed:
        return "no: not deployed"
    return f"no: {len(task.not_ready)} of {task.objects} object(s) not ready"


@click.command("catalog")
@click.option(
    "--stacks-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("stacks"),
    show_default=True,
    help="Folder of stack files.",
)
@click.option(
    "--workflows-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("workflows"),
    show_default=True,
    help="Folder of workflow files.",
)
def catalog_command(stacks_dir: Path, workflows_dir: Path) -> None:
    """List the workflows and stacks with their parameters."""
    from deployer.engine.workflow.parse import load_workflow

    if not stacks_dir.is_dir() and not workflows_dir.is_dir():
        raise InputError(
            f"neither {stacks_dir.absolute()} nor {workflows_dir.absolute()} is a folder. "
            "Run from the folder that contains stacks/ and workflows/ (the deployer checkout), "
            "or pass --stacks-dir and --workflows-dir."
        )
    console = output_console()
    workflows = Table(title="workflows")
    for column in ("file", "parameter", "default", "description"):
        workflows.add_column(column)
    for file in sorted(workflows_dir.glob("*.yaml")) if workflows_dir.is_dir() else []:
        workflow = load_workflow(file)
        for index, parameter in enumerate(workflow.arguments):
            default = parameter.value if parameter.value is not None else parameter.default
            shown = "(masked)" if looks_secret(parameter.name) else default or ""
            name = file.name if index == 0 else ""
            workflows.add_row(name, parameter.name, shown, parameter.description or "")
    console.print(workflows)
    stacks = Table(title="stacks")
    for column in ("stack", "description", "workflow", "parameters"):
        stacks.add_column(column)
    for file in sorted(stacks_dir.glob("*.yaml")) if stacks_dir.is_dir() else []:
        for row in stack_rows(load_stack(file)):
            stacks.add_row(*row)
    console.print(stacks)


def stack_rows(stack: Stack) -> list[tuple[str, str, str, str]]:
    """Return the catalog rows of one stack: its own parameters, then one row per entry.

    The first row's workflow column reads `(all)`, for `spec.parameters`. Each entry row
    names the entry as `-p ENTRY.NAME=VALUE` spells it, with its file when the entry has
    its own `name`, and lists the entry's parameters and the helm templates it gives
    values to. Values of parameters whose names look secret are masked.
    """
    rows = [(stack.name, stack.description, "(all)", _parameter_text(stack.parameters))]
    for entry in stack.workflows:
        workflow = entry.label if not entry.name else f"{entry.label} ({entry.file.name})"
        cells = [_parameter_text(entry.parameters)]
        if entry.values:
            cells.append(f"helm values for {', '.join(entry.values)}")
        rows.append(("", "", workflow, "; ".join(cell for cell in cells if cell)))
    return rows


def _parameter_text(parameters: Mapping[str, str]) -> str:
    return ", ".join(
        f"{name}={'(masked)' if looks_secret(name) else value}"
        for name, value in parameters.items()
    )


def register(group: click.Group) -> None:
    """Add the stack commands to the `deployer` group."""
    for command in (up_command, down_command, status_command, catalog_command):
        group.add_command(command)
