"""`deployer local ...`: build, start, stop and inspect local control planes."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from deployer.errors import LocalClusterError
from deployer.local import build, health, kubectl_binary, paths
from deployer.local import cluster as local


def _report(line: str) -> None:
    click.echo(line, err=True)


def _cluster_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Reject an unusable cluster name as a usage error (exit code 2)."""
    try:
        local.check_name(value)
    except LocalClusterError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.group("local")
def local_group() -> None:
    """Run a real Kubernetes control plane on 127.0.0.1 with simulated nodes."""


@local_group.command("build")
def build_cmd() -> None:
    """Build (once, cached by version) etcd, the Kubernetes binaries, kwok and helm."""
    build.ensure_built(report=_report)
    for component in build.ALL:
        version = paths.versions()[component.key]
        click.echo(f"{component.key} {version}: {paths.bin_dir(component.key, version)}")


@local_group.command("up")
@click.argument("name", default="default", callback=_cluster_name)
@click.option(
    "--nodes",
    type=click.IntRange(1, local.MAX_NODES),
    help="Number of simulated nodes of a new cluster, each admitting 1,000 pods"
    f" [default: {local.DEFAULT_NODES}]. A cluster that exists keeps its own.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Discard the cluster's data (every object, run record and inventory) and start it afresh.",
)
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for start-up.")
def up_cmd(name: str, nodes: int | None, fresh: bool, timeout: float) -> None:
    """Start the cluster NAME (default: default) and wait until it is ready.

    A cluster that was started before keeps its data: only its components that are not
    running start again, for example after a reboot.
    """
    started = time.monotonic()
    cluster = local.up(name, nodes=nodes, fresh=fresh, report=_report, timeout=timeout)
    seconds = time.monotonic() - started
    if cluster.already_running:
        click.echo(f"cluster {name} already runs at {cluster.server}")
    elif cluster.kept_data:
        again = ", ".join(cluster.restarted) or "nothing"
        click.echo(
            f"cluster {name} is ready at {cluster.server} with its data kept"
            f" (started again: {again}; {seconds:.1f} s)"
        )
    else:
        click.echo(f"cluster {name} is ready at {cluster.server} ({seconds:.1f} s)")
    click.echo(f"kubeconfig: {cluster.kubeconfig}")
    kubectl = kubectl_binary() or "kubectl"
    click.echo(f"try: {kubectl} --kubeconfig {cluster.kubeconfig} get nodes")
    click.echo(f"or:  export KUBECONFIG={cluster.kubeconfig}")


@local_group.command("down")
@click.argument("name", default="default")
def down_cmd(name: str) -> None:
    """Stop every process of the cluster NAME, free its ports and remove its data."""
    if local.down(name):
        click.echo(f"cluster {name} stopped")
    else:
        click.echo(f"cluster {name} is not known; nothing to stop")


@local_group.command("status")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def status_cmd(name: str | None, output: str) -> None:
    """Show the processes, ports and API readiness of one cluster, or of every known cluster.

    Exits with status 1 unless every cluster shown runs: all five processes alive, the
    API's /readyz ok and its last `up` finished.
    """
    names = [name] if name else local.list_names()
    rows = [_status_row(each) for each in names]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("no local clusters; start one with: deployer local up")
    for row in rows if output == "text" else []:
        _echo_status(row)
    if any(row["state"] != "running" for row in rows):
        raise SystemExit(1)


def _status_row(name: str) -> dict[str, Any]:
    cluster = local.status(name)
    if cluster is None:
        return {"name": name, "state": "unknown", "problems": ["no state.json: never started"]}
    found = health.check(cluster)
    return {
        "name": name,
        "state": found.state,
        "server": cluster.server,
        "kubeconfig": str(cluster.kubeconfig),
        "processes": {
            proc: {"pid": cluster.pids.get(proc), "alive": alive}
            for proc, alive in found.alive.items()
        },
        "unrecorded": [{"component": proc, "pid": pid} for pid, proc in found.unrecorded.items()],
        "readyz": found.readyz,
        "started": found.started,
        "problems": found.problems(),
        "ports": cluster.ports,
    }


def _echo_status(row: dict[str, Any]) -> None:
    server = f" at {row['server']}" if "server" in row else ""
    click.echo(f"{row['name']}: {row['state']}{server}")
    for proc, info in row.get("processes", {}).items():
        pid = info["pid"] if info["pid"] is not None else "-"
        if info["alive"]:
            state = "alive"
        else:
            state = "exited" if info["pid"] is not None else "never started"
        click.echo(f"  {proc:<24} pid {pid:<8} {state}")
    for stray in row.get("unrecorded", []):
        click.echo(f"  {stray['component']:<24} pid {stray['pid']:<8} alive, not recorded")
    if "readyz" in row:
        click.echo(f"  {'/readyz':<37} {row['readyz']}")
    if row["state"] in ("running", "unknown"):
        return
    down = [proc for proc, info in row["processes"].items() if not info["alive"]]
    if down:
        click.echo(f"  not running: {', '.join(down)}")
    if not row["started"]:
        click.echo("  the last `deployer local up` of it did not finish")
    click.echo(
        f"  `deployer local up {row['name']}` starts again what is not running and keeps"
        " the cluster's data"
    )


@local_group.command("kubeconfig")
@click.argument("name", default="default")
def kubeconfig_cmd(name: str) -> None:
    """Print the path of the cluster's kubeconfig."""
    cluster = local.status(name)
    if cluster is None:
        raise click.UsageError(
            f"cluster {name} is not known; start it with: deployer local up {name}"
        )
    click.echo(str(cluster.kubeconfig))


def register(group: click.Group) -> None:
    group.add_command(local_group)
