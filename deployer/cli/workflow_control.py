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
from deployer.errors import ApiError, WorkflowError
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


def _log_unavailable(pod_node: Any, failed: Exception | str) -> str:
    """Return the one line printed for a pod whose log could not be read."""
    text = str(failed)
    if KUBELET_UNREACHABLE.search(text):
        reason = "the cluster serves no container logs (no kubelet is reachable for the pod)"
    elif isinstance(failed, str):
        reason = failed
    else:
        reason = text.splitlines()[0] if text else type(failed).__name__
    line = f"log of pod {pod_node.pod_name} is not available: {reason}"
    if pod_node.result:
        line += f"; termination message of {pod_node.display_name}: {pod_node.result}"
    return line


# API statuses of a log request for a pod that does not exist yet (404) or whose container has
# not started yet (400). A follower requests the log again while the run goes on, as it does
# for a pod not yet scheduled to a node.
NOT_YET_STATUSES = (400, 404)
# Seconds between two log requests for a pod that is not there yet.
LOG_RETRY_SECONDS = 1.0


class LogFollower:
    """Follower of the main container's log of several pods, each read by its own thread.

    Lines are printed as they arrive, prefixed with the node's display name when `prefix` is
    set, so one pod that is still running does not hold back the others. While `run_over`
    is not set, a pod that does not exist yet, is on no node yet, or whose container has not
    started, is asked for again every LOG_RETRY_SECONDS.
    """

    def __init__(self, target: Target, namespace: str, *, follow: bool, prefix: bool) -> None:
        self.target = target
        self.namespace = namespace
        self.follow = follow
        self.prefix = prefix
        self.run_over = threading.Event()
        self.lock = threading.Lock()
        self.threads: dict[str, threading.Thread] = {}

    def add(self, pod_node: Any) -> None:
        """Start following a pod node's log, unless it is followed already."""
        if pod_node.pod_name in self.threads:
            return
        thread = threading.Thread(
            target=self._read, args=(pod_node,), name=f"log-{pod_node.pod_name}", daemon=True
        )
        self.threads[pod_node.pod_name] = thread
        thread.start()

    def wait(self) -> None:
        """Return once every log followed so far has ended."""
        for thread in list(self.threads.values()):
            thread.join()

    def _read(self, pod_node: Any) -> None:
        printed = False
        on_node = False
        while True:
            # After the run is over, one more request is made and then the last failure is
            # printed.
            last_try = self.run_over.is_set()
            failed: Exception | str
            try:
                # The API server returns an empty log for a pod with no node, so the log is
                # read only once the pod has a node.
                failed = "" if on_node else self._not_on_node(pod_node.pod_name)
                on_node = not failed
                if on_node:
                    lines = self.target.cluster.pod_log(
                        pod_node.pod_name,
                        self.namespace,
                        container=MAIN_CONTAINER,
                        follow=self.follow,
                    )
                    for line in lines:
                        printed = True
                        self._echo(f"{pod_node.display_name}: {line}" if self.prefix else line)
                    return
            except ApiError as error:
                if printed or error.status not in NOT_YET_STATUSES:
                    self._echo(_log_unavailable(pod_node, error), err=True)
                    return
                failed = error
            except Exception as error:  # Cluster.pod_log may raise the client's own errors
                self._echo(_log_unavailable(pod_node, error), err=True)
                return
            if last_try:
                self._echo(_log_unavailable(pod_node, failed), err=True)
                return
            self.run_over.wait(LOG_RETRY_SECONDS)

    def _not_on_node(self, pod_name: str) -> str:
        """Return the reason the pod has no node yet, or "" once it has one."""
        pod = self.target.cluster.get("v1", "Pod", pod_name, self.namespace)
        if pod is None:
            return f"pod {pod_name} does not exist"
        if not (pod.get("spec") or {}).get("nodeName"):
            return "the pod was not scheduled to a node"
        return ""

    def _echo(self, text: str, *, err: bool = False) -> None:
        with self.lock:
            click.echo(text, err=err)


@click.command("logs")
@click.argument("run")
@click.argument("node", required=False)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Follow the logs of all pods at once, and of pods started later, until the run ends.",
)
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
    watch_run = follow and node is None and not record.done
    follower = LogFollower(
        target, record.namespace, follow=follow, prefix=len(nodes) > 1 or watch_run
    )
    if not follow:
        # One pod after the other, so that each pod's lines stay together.
        follower.run_over.set()
        for pod_node in nodes:
            follower.add(pod_node)
            follower.wait()
        return
    for pod_node in nodes:
        follower.add(pod_node)
    if watch_run:
        _follow_new_pods(target, run, follower)
    follower.run_over.set()
    follower.wait()


def _follow_new_pods(target: Target, run: str, follower: LogFollower) -> None:
    """Follow the pods that the run starts from now on, until the run ends."""
    stop = threading.Event()
    try:
        for update in _updates(target, run, stop):
            for pod_node in _pod_nodes(update, None):
                follower.add(pod_node)
            if update.done:
                return
    finally:
        stop.set()


def _control(run: str, control: str, value: str, target: Target) -> RunRecord:
    from deployer.engine.workflow import liveness

    record = target.load(run)
    if record.done:
        raise WorkflowError(f"run {run} already ended ({record.phase}); nothing to {control}")
    if liveness.abandoned(record):
        raise WorkflowError(
            f"run {run} is abandoned: the process that ran it ({record.client}) is gone, so "
            f"nothing would act on a {control} request; continue the run with "
            f"`deployer retry {run}`, or remove it with `deployer delete {run}`"
        )
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
    elif node and not any(node in (n.id, n.name, n.display_name) for n in waiting):
        names = ", ".join(n.display_name for n in waiting)
        click.echo(
            f"run {run} has no suspended node {node!r} (suspended now: {names}); it resumes "
            f"when a node of that name suspends, or ask again with `--node NAME`",
            err=True,
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
