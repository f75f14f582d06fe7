"""The number of simulated nodes is bounded by the pod address range each node gets."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from deployer.cli.local_cmds import local_group
from deployer.errors import LocalClusterError
from deployer.local import bootstrap, cluster


def test_node_pod_ranges_fit_node_capacity() -> None:
    ranges = [ipaddress.ip_network(bootstrap._node_pod_cidr(i)) for i in range(cluster.MAX_NODES)]
    pod_range = ipaddress.ip_network(cluster.POD_CIDR)
    assert all(r.subnet_of(pod_range) for r in ranges)
    assert len({r.network_address for r in ranges}) == cluster.MAX_NODES
    capacities = re.findall(r'pods: "(\d+)"', cluster.STAGES_FILE.read_text())
    assert capacities, "no pod capacity found in the kwok stages"
    # every pod a node admits gets its own address
    assert min(r.num_addresses for r in ranges) >= max(int(c) for c in capacities)


@pytest.mark.parametrize("nodes", [0, cluster.MAX_NODES + 1])
def test_node_count_out_of_range_rejected(nodes: int) -> None:
    with pytest.raises(LocalClusterError, match=f"invalid node count {nodes}"):
        cluster.check_nodes(nodes)


def test_up_rejects_zero_nodes_as_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYER_HOME", str(tmp_path))
    result = CliRunner().invoke(local_group, ["up", "never-started", "--nodes", "0"])
    assert result.exit_code == 2
    assert "--nodes" in result.output
    assert cluster.status("never-started") is None
