"""Starting and stopping the control plane's processes, and picking free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


def port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_ports(
    count: int, *, start: int = 20000, end: int = 40000, avoid: Iterable[int] = ()
) -> list[int]:
    """Pick `count` free loopback ports, skipping ports in use and those in `avoid`.

    Candidates start at a pseudo-random offset so parallel clusters rarely race for the
    same port; each candidate is checked by binding it.
    """
    taken = set(avoid)
    span = end - start
    offset = (os.getpid() * 7919 + time.monotonic_ns() // 1000) % span
    chosen: list[int] = []
    for step in range(span):
        port = start + (offset + step * 13) % span
        if port in taken or port + 1 in taken:
            continue
        if port_is_free(port):
            chosen.append(port)
            taken.add(port)
            if len(chosen) == count:
                return chosen
    raise OSError(f"no {count} free ports between {start} and {end} on {LOOPBACK}")


def start(command: Sequence[str], *, log_file: Path) -> int:
    """Start a long-running process in its own session, logging to `log_file`; return its pid.

    posix_spawn leaves no Popen object behind, so the process outlives this one cleanly
    and `stop` reaps it when this process is still its parent.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, null_fd, 0),
            (os.POSIX_SPAWN_DUP2, log_fd, 1),
            (os.POSIX_SPAWN_DUP2, log_fd, 2),
        ]
        return os.posix_spawn(
            command[0], list(command), dict(os.environ), file_actions=actions, setsid=True
        )
    finally:
        os.close(log_fd)
        os.close(null_fd)


def is_alive(pid: int, *, marker: str = "") -> bool:
    """True if `pid` runs and, when `marker` is given, its command line contains it.

    The marker (the cluster's folder) guards against a pid that was reused by an
    unrelated process after ours ended.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie (state Z) has exited; it only waits to be reaped by its parent.
    if stat.rpartition(")")[2].split()[0] == "Z":
        return False
    # Just after exec the command line can read as empty for a moment.
    if not marker or not cmdline:
        return True
    return marker.encode() in cmdline


def stop(pids: Sequence[int], *, marker: str, grace: float = 10.0) -> list[int]:
    """Send SIGTERM to each live pid, SIGKILL after `grace` seconds; return pids still alive."""
    alive = [pid for pid in pids if is_alive(pid, marker=marker)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(alive)
        alive = [pid for pid in alive if is_alive(pid, marker=marker)]
        if not alive:
            return []
        time.sleep(0.1)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    _reap(alive)
    return [pid for pid in alive if is_alive(pid, marker=marker)]


def _reap(pids: Iterable[int]) -> None:
    """Collect exited children of this process so they do not linger as zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
