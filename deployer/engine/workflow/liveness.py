"""Whether the process running a recorded run is still alive.

A running process stamps its record's `heartbeat` every HEARTBEAT_SECONDS. A run that is not
done counts as abandoned when its process is gone. On the same host that means no process
has its pid. From any host it means the heartbeat is older than STALE_SECONDS.
"""

from __future__ import annotations

import datetime
import os
import socket

from deployer.model.run import RunRecord, parse_rfc3339

HEARTBEAT_SECONDS = 10.0
# Three missed heartbeats: long enough for a slow write, short enough for a retry soon after.
STALE_SECONDS = 3 * HEARTBEAT_SECONDS


def client_id() -> str:
    """Return `host:pid` of this process."""
    return client_id_of(os.getpid())


def client_id_of(pid: int) -> str:
    """Return `host:pid` of a process on this host."""
    return f"{socket.gethostname()}:{pid}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat_age(record: RunRecord) -> float | None:
    """Return seconds since the record's heartbeat, or None when it has none."""
    if not record.heartbeat:
        return None
    now = datetime.datetime.now(datetime.UTC)
    return (now - parse_rfc3339(record.heartbeat)).total_seconds()


def abandoned(record: RunRecord) -> bool:
    """Return True when a run is recorded as not done but its process is gone."""
    if record.done:
        return False
    host, _, pid = record.client.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return True
    age = heartbeat_age(record)
    return age is None or age > STALE_SECONDS
