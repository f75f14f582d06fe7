"""`deployer dashboard`: serve the read-only web dashboard of recorded runs."""

from __future__ import annotations

import errno
import socket

import click

from deployer.cli.target import resolve_kubeconfig


@click.command("dashboard")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Any address but loopback exposes run records to the network.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="TCP port (0: any free port).",
)
@click.option("--kubeconfig", default=None, help="Path of the kubeconfig file.")
@click.option("--context", default=None, help="Kubeconfig context to use.")
def dashboard_cmd(address: str, port: int, kubeconfig: str | None, context: str | None) -> None:
    """Serve a read-only web page of recorded runs that follows them live. Ctrl-C stops it."""
    from deployer.cluster.client import Cluster
    from deployer.dashboard import create_server

    cluster = Cluster.connect(kubeconfig=resolve_kubeconfig(kubeconfig), context=context)
    try:
        server = create_server(cluster, address=address, port=port)
    except OSError as failed:
        raise click.ClickException(listen_error(address, port, failed)) from failed
    click.echo(f"dashboard of recorded runs at {server.url} (read-only); Ctrl-C stops it", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("dashboard stopped", err=True)
    finally:
        server.close()


def listen_error(address: str, port: int, failed: OSError) -> str:
    """Say why the server cannot listen on `address`:`port`, and which option to change."""
    where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    reason = failed.strerror or str(failed)
    if isinstance(failed, socket.gaierror):
        return (
            f"cannot listen on {where}: {address} is not an IP address or a host name this "
            f"machine can resolve ({reason}); pass an address of this machine to --address"
        )
    if failed.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {where}: {address} is not an address of this machine "
            f"({reason}); pass one of its addresses to --address: 127.0.0.1 or ::1 for this "
            "machine only, an address of one of its network interfaces, or 0.0.0.0 for all"
        )
    if failed.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is in use ({reason}); choose another --port, "
            "or --port 0 for any free one"
        )
    if failed.errno == errno.EACCES:
        return (
            f"cannot listen on {where}: permission denied ({reason}); ports below 1024 need "
            "privileges, so choose --port 1024 or higher"
        )
    return f"cannot listen on {where}: {reason}; check --address and --port"


def register(group: click.Group) -> None:
    """Add `dashboard` to the `deployer` group."""
    group.add_command(dashboard_cmd)
