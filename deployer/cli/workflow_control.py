"""Workflow verbs that act on a recorded run: watch, logs, resume, stop, terminate, delete.

`resume`, `stop` and `terminate` annotate the run's record ConfigMap; the process running the
workflow watches that ConfigMap and acts within a second. `stop` still runs exit handlers,
`terminate` does not.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from deployer.cli import workflow_view as view
from deployer.cli.workflow_cmds import LinePrinter, Target, cluster_options, exit_for
from deployer.engine.workflow.pods import MAIN_CONTAINER, RUN_LABEL
from deployer.engine.workflow.record import RECORD_NAMESPACE, record_from_configmap
from deployer.errors import WorkflowError
from deployer.model.run import RunRecord


def _updates(target: Target, name: str, stop: threading.Event) -> Iterator[RunRecord]:
    """Yield the run's record each time its ConfigMap changes."""
    events = target.cluster.watch(
        "v1", "ConfigMap", RECORD_NAMESPACE, field_selector=f"metadata.name={name}", stop=stop
    )
    for kind, obj in events:
        if kind == "DELETED":
            raise WorkflowError(f"run {name} was deleted")
        yield record_from_configmap(obj)


@click.command("watch")
@click.argument("run")
@cluster_options
def watch_cmd(run: str, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
    """Follow RUN until it ends; exit 0 when it Succeeded, else 1."""
    target = Target(kubeconfig, context, namespace)
    record = target.load(run)
    stop = threading.Event()
    live = sys.stdout.isatty()
    printer = LinePrinter()
    try:
        if live:
            with Live(view.rich_tree(record), console=Console(), refresh_per_second=4) as screen:
                for record in _updates(target, run, stop):
                    screen.update(view.rich_tree(record))
                    if record.done:
                        break
        else:
            for record in _updates(target, run, stop):
                for _depth, node in record.walk():
                    printer(node)
                if record.done:
                    break
    finally:
        stop.set()
    if record.phase == "Succeeded":
        click.echo(f"run {record.name} Succeeded")
    exit_for(record)


def _pod_nodes(record: RunRecord, node: str | None) -> list[Any]:
    nodes = sorted((n for n in record.nodes.values() if n.pod_name), key=lambda n: n.started or "")
    if node is None:
        return nodes
    chosen = [n for n in nodes if node in (n.name, n.display_name, n.id, n.pod_name)]
    if not chosen:
        known = ", ".join(n.display_name for n in nodes) or "none"
        raise WorkflowError(f"run {record.name} has no pod node {node!r}; pod nodes: {known}")
    return chosen


# Text of the API server's error when it cannot reach the kubelet that serves a pod's log.
# The local cluster's simulated nodes run no kubelet, so every log request fails this way.
KUBELET_UNREACHABLE = re.compile(r"/containerLogs/.*(dial tcp|connection refused|no such host)")


def _log_unavailable(pod_node: Any, failed: Exception) -> str:
    """Return the one line printed for a pod whose log could not be read."""
    text = str(failed)
    if KUBELET_UNREACHABLE.search(text):
        reason = "the cluster serves no container logs (no kubelet is reachable for the pod)"
    else:
        reason = text.splitlines()[0] if text else type(failed).__name__
    line = f"log of pod {pod_node.pod_name} is not available: {reason}"
    if pod_node.result:
        line += f"; termination message of {pod_node.display_name}: {pod_node.result}"
    return line


@click.command("logs")
@click.argument("run")
@click.argument("node", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new log lines.")
@cluster_options
def logs_cmd(
    run: str,
    node: str | None,
    follow: bool,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
) -> None:
    """Print the main container's log of RUN's pods, or of the one pod node NODE."""
    target = Target(kubeconfig, context, namespace)
    record = target.load(run)
    nodes = _pod_nodes(record, node)
    prefix = len(nodes) > 1
    for pod_node in nodes:
        try:
            lines = target.cluster.pod_log(
                pod_node.pod_name, record.namespace, container=MAIN_CONTAINER, follow=follow
            )
            for line in lines:
                click.echo(f"{pod_node.display_name}: {line}" if prefix else line)
        except Exception as failed:  # Cluster.pod_log may raise the client's own errors
            click.echo(_log_unavailable(pod_node, failed), err=True)


def _control(run: str, control: str, value: str, target: Target) -> RunRecord:
    record = target.load(run)
    if record.done:
        raise WorkflowError(f"run {run} already ended ({record.phase}); nothing to {control}")
    target.store.request(run, control, value)
    return record


@click.command("resume")
@click.argument("run")
@click.option("--node", default=None, help="Resume only this suspended node (default: all).")
@cluster_options
def resume_cmd(
    run: str, node: str | None, kubeconfig: str | None, context: str | None, namespace: str | None
) -> None:
    """Resume the suspended nodes of RUN."""
    record = _control(run, "resume", node or "all", Target(kubeconfig, context, namespace))
    waiting = [n for n in record.nodes.values() if n.type == "Suspend" and n.phase == "Running"]
    if not waiting:
        click.echo(
            f"run {run} has no suspended node yet; the next one to suspend resumes", err=True
        )
    click.echo(f"run {run}: resume requested")


@click.command("stop")
@click.argument("run")
@cluster_options
def stop_cmd(run: str, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
    """Stop RUN: running pods are deleted, nothing new starts, exit handlers still run."""
    _control(run, "stop", "true", Target(kubeconfig, context, namespace))
    click.echo(f"run {run}: stop requested")


@click.command("terminate")
@click.argument("run")
@cluster_options
def terminate_cmd(
    run: str, kubeconfig: str | None, context: str | None, namespace: str | None
) -> None:
    """Terminate RUN at once: like stop, but exit handlers do not run."""
    _control(run, "terminate", "true", Target(kubeconfig, context, namespace))
    click.echo(f"run {run}: terminate requested")


# How long `delete --force` waits for a stopped run's process to finish the run.
STOP_WAIT_SECONDS = 60.0


def _stop_and_wait(target: Target, record: RunRecord) -> RunRecord:
    """Request a stop of a live run and return its record once the run has ended."""
    target.store.request(record.name, "stop", "true")
    click.echo(f"run {record.name}: stop requested; waiting for it to end", err=True)
    stop = threading.Event()
    timer = threading.Timer(STOP_WAIT_SECONDS, stop.set)
    timer.daemon = True
    timer.start()
    try:
        for update in _updates(target, record.name, stop):
            if update.done:
                return update
    finally:
        timer.cancel()
        stop.set()
    raise WorkflowError(
        f"run {record.name} did not end within {STOP_WAIT_SECONDS:.0f} s of the stop request; "
        f"check process {record.client}, then run `deployer delete {record.name}` again"
    )


@click.command("delete")
@click.argument("run")
@click.option("--force", is_flag=True, help="Stop a running run first, then delete it.")
@cluster_options
def delete_cmd(
    run: str,
    force: bool,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
) -> None:
    """Delete RUN's record, its pods and the objects it owns through setOwnerReference.

    A run whose process is still running it is rejected unless --force is given, because
    that process would write the record again.
    """
    from deployer.engine.workflow import liveness

    target = Target(kubeconfig, context, namespace)
    record = target.load(run)
    if not record.done and not liveness.abandoned(record):
        if not force:
            raise WorkflowError(
                f"run {run} is still running in process {record.client}; stop it with "
                f"`deployer stop {run}` first, or pass --force to stop and delete it"
            )
        record = _stop_and_wait(target, record)
    selector = f"{RUN_LABEL}={run}"
    pods, _ = target.cluster.list("v1", "Pod", record.namespace, label_selector=selector)
    for pod in pods:
        target.cluster.delete("v1", "Pod", pod["metadata"]["name"], record.namespace)
    anchors, _ = target.cluster.list("v1", "ConfigMap", None, label_selector=selector)
    for anchor in anchors:
        meta = anchor["metadata"]
        target.cluster.delete("v1", "ConfigMap", meta["name"], meta["namespace"])
    target.store.delete(run)
    click.echo(f"run {run} deleted ({len(pods)} pod(s))")


COMMANDS = (watch_cmd, logs_cmd, resume_cmd, stop_cmd, terminate_cmd, delete_cmd)
