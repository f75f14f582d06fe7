"""Which cluster a command talks to: kubectl's rules, with the local cluster as the default.

`--kubeconfig` wins, then `KUBECONFIG`, then `~/.kube/config`. When none of them exists,
commands target the local control plane named `default`, starting it if needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

LOCAL_DEFAULT = "default"


def resolve_kubeconfig(flag: str | None, *, start_local: bool = True) -> str | None:
    """Return the kubeconfig path to use, or None to let the client apply kubectl's rules."""
    if flag:
        return flag
    if os.environ.get("KUBECONFIG"):
        return None
    if (Path.home() / ".kube" / "config").exists():
        return None
    if not start_local:
        return None
    from deployer.local import cluster as local

    known = local.status(LOCAL_DEFAULT)
    if known is None or not local.is_ready(known):
        click.echo("no kubeconfig given: starting the local control plane 'default'", err=True)
    # `up` returns at once for a ready cluster and waits for one that is still starting.
    running = local.up(LOCAL_DEFAULT, report=lambda line: click.echo(line, err=True))
    return str(running.kubeconfig)
