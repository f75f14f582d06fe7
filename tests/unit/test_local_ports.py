"""Port selection for local clusters skips ports that are in use."""

from __future__ import annotations

import socket

from deployer.local import processes


def test_port_in_use_is_skipped() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        assert not processes.port_is_free(busy)
        chosen = processes.free_ports(1, start=busy, end=busy + 50)
    assert chosen[0] != busy
    assert busy < chosen[0] < busy + 50


def test_free_ports_are_distinct() -> None:
    ports = processes.free_ports(5)
    assert len(set(ports)) == 5
