"""`deployer submit --detach`: run the workflow in a background process and return at once."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from deployer.errors import WorkflowError

# How long `--detach` waits for the background process to write the first run record, in s.
START_TIMEOUT_SECONDS = 60.0


def log_path(name: str) -> Path:
    """Return where the background process of run `name` writes its output."""
    folder = Path(tempfile.gettempdir()) / "deployer-runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def detach_submit(
    target: Any,
    *,
    file: Path,
    parameters: tuple[str, ...],
    templates_dirs: tuple[Path, ...],
    name: str,
    namespace: str,
    output: str | None,
) -> None:
    """Start `deployer submit` for run `name` in a new session; return once its record exists.

    Raises RunExists, before starting anything, when a run of that name is recorded.
    """
    target.store.check_new(name)
    args = [
        sys.executable,
        "-c",
        "from deployer.cli.main import main; main()",
        "submit",
        str(file.resolve()),
        "--name",
        name,
        "-n",
        namespace,
        "-o",
        "name",
    ]
    for parameter in parameters:
        args += ["-p", parameter]
    for folder in templates_dirs:
        args += ["--templates-dir", str(folder.resolve())]
    if target.kubeconfig:
        args += ["--kubeconfig", target.kubeconfig]
    if target.context:
        args += ["--context", target.context]
    log = log_path(name)
    with log.open("w") as handle:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_for_record(target, name, process, log)
    if output == "name":
        click.echo(name)
    else:
        click.echo(
            f"run {name} started in the background (pid {process.pid}); output in {log}; "
            f"follow it with `deployer watch {name}`"
        )


def _wait_for_record(target: Any, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once `process` has written run `name`'s record; raise WorkflowError if it died first.

    A record of that name written by another process (one that won a race for the name)
    does not count: the background process then fails, and its output is shown.
    """
    from deployer.engine.workflow.liveness import client_id_of

    mine = client_id_of(process.pid)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            if target.load(name).client == mine:
                break
        except WorkflowError:
            pass
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise WorkflowError(f"the background run {name} ended before it started:\n{tail}")
        if time.monotonic() > deadline:
            raise WorkflowError(
                f"the background run {name} wrote no record within "
                f"{START_TIMEOUT_SECONDS:g} s; see {log}"
            )
        time.sleep(0.3)
