"""Starting and stopping the control plane's processes, and picking free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from deployer.errors import LocalClusterError

LOOPBACK = "127.0.0.1"
# Error text that Go programs (etcd, kube-apiserver) log when a port they bind is in use.
ADDRESS_IN_USE = "address already in use"
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def ephemeral_ports() -> range:
    """Return the local ports Linux gives to outgoing connections, or an empty range.

    Read from /proc/sys/net/ipv4/ip_local_port_range (32768 to 60999 by default).
    """
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return range(0)
    return range(low, high + 1)


def free_ports(
    count: int, *, start: int = 20000, end: int = 40000, avoid: Iterable[int] = ()
) -> list[int]:
    """Pick `count` free loopback ports, skipping ports in use and those in `avoid`.

    Candidates start at a pseudo-random offset so parallel clusters rarely race for the
    same port. Ports in the kernel's ephemeral range come last, because the kernel gives
    them to outgoing connections at any moment. Each candidate is checked by binding it.
    Nothing reserves a port after it is picked, so another process can still take it
    before ours listens on it. Callers detect that from the component's log
    (`ADDRESS_IN_USE`) and pick again.

    Raises LocalClusterError when the range has too few free ports or no socket can be
    opened.
    """
    taken = set(avoid)
    span = end - start
    offset = (os.getpid() * 7919 + time.monotonic_ns() // 1000) % span
    ephemeral = ephemeral_ports()
    candidates = [start + (offset + step * 13) % span for step in range(span)]
    candidates.sort(key=lambda port: port in ephemeral)  # stable, so the order stays mixed
    chosen: list[int] = []
    for port in candidates:
        if port in taken or port + 1 in taken:
            continue
        try:
            free = port_is_free(port)
        except OSError as error:  # socket() itself failed, e.g. too many open files
            raise LocalClusterError(
                f"checking whether port {port} on {LOOPBACK} is free failed: {error};"
                " free some file descriptors or raise the limit (ulimit -n) and try again"
            ) from error
        if free:
            chosen.append(port)
            taken.add(port)
            if len(chosen) == count:
                return chosen
    raise LocalClusterError(
        f"found only {len(chosen)} of {count} free TCP ports between {start} and {end}"
        f" on {LOOPBACK}; stop what listens there (other local clusters are listed by"
        " `deployer local status`) and try again"
    )


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


def find(programs: Iterable[str], *, marker: str) -> dict[int, str]:
    """Find live processes that run one of `programs` with `marker` in their arguments.

    Returns each one's pid and program name. The program is the file name of argv[0], so
    a shell or an editor with the marker in its arguments does not match.
    """
    names = set(programs)
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        program = Path(args[0]).name
        pid = int(entry.name)
        if program in names and any(marker in arg for arg in args[1:]) and is_alive(pid):
            found[pid] = program
    return found


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
