"""`local up` never discards a cluster's etcd data on its own, and the health of a cluster
counts every component and the API's /readyz."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from deployer.cli.local_cmds import local_group
from deployer.errors import LocalClusterError
from deployer.local import cluster, health, paths, pki, processes
from deployer.local.health import Health
from deployer.local.state import PROCESS_ORDER, LocalCluster, save


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEPLOYER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def stopped_cluster(name: str) -> LocalCluster:
    """Record a cluster with keys and etcd data whose processes are all gone."""
    folder = paths.cluster_dir(name)
    (folder / "etcd" / "member" / "snap").mkdir(parents=True)
    pki.write_pki(folder / "pki", service_ip=cluster.SERVICE_IP)
    recorded = LocalCluster(
        name=name,
        folder=folder,
        server="https://127.0.0.1:1",
        ports={"etcd": 1, "etcd-peer": 2, "kube-apiserver": 3},
    )
    save(recorded)
    return recorded


def test_up_keeps_etcd_data_when_keys_missing(home: Path) -> None:
    recorded = stopped_cluster("t")
    (recorded.folder / "pki" / "ca.key").unlink()
    with pytest.raises(LocalClusterError) as raised:
        cluster.up("t", report=lambda _line: None)
    message = str(raised.value)
    assert "pki/ca.key is missing" in message
    assert "deployer local up t --fresh" in message
    assert (recorded.folder / "etcd" / "member").is_dir()


def test_up_keeps_etcd_data_without_state_file(home: Path) -> None:
    recorded = stopped_cluster("t")
    (recorded.folder / "state.json").unlink()
    with pytest.raises(LocalClusterError) as raised:
        cluster.up("t", report=lambda _line: None)
    assert "no state.json" in str(raised.value)
    assert "--fresh" in str(raised.value)
    assert (recorded.folder / "etcd" / "member").is_dir()


def health_of(down: tuple[str, ...] = (), readyz: str = "ok", started: bool = True) -> Health:
    alive = {name: name not in down for name in PROCESS_ORDER}
    return Health(alive=alive, readyz=readyz, started=started)


@pytest.mark.parametrize(
    ("found", "state"),
    [
        (health_of(), "running"),
        (health_of(down=("kwok",)), "degraded"),
        (health_of(down=PROCESS_ORDER[1:]), "degraded"),
        (health_of(down=PROCESS_ORDER), "stopped"),
        (health_of(readyz="HTTP 500, failed checks: etcd failed"), "not ready"),
        (health_of(started=False), "not ready"),
    ],
)
def test_health_state(found: Health, state: str) -> None:
    assert found.state == state


def test_health_problems_name_each_down_component() -> None:
    problems = health_of(down=PROCESS_ORDER[1:], started=False).problems()
    for name in PROCESS_ORDER[1:]:
        assert f"{name} is not running" in problems
    assert "etcd is not running" not in problems
    assert "the last `deployer local up` of it did not finish" in problems


def _sim_values(stage: dict[str, object], operator: str) -> list[str]:
    selector = stage["spec"]["selector"]  # type: ignore[index]
    return [
        value
        for expression in selector["matchExpressions"]
        if expression["key"] == '.metadata.annotations["deployer.dev/sim"]'
        and expression["operator"] == operator
        for value in expression["values"]
    ]


def test_unknown_sim_stage_excludes_exactly_known_values() -> None:
    stages = list(yaml.safe_load_all(cluster.STAGES_FILE.read_text()))
    known = sorted(value for stage in stages for value in _sim_values(stage, "In"))
    [unknown_stage] = [s for s in stages if s["metadata"]["name"] == "pod-unknown-sim"]
    assert sorted(_sim_values(unknown_stage, "NotIn")) == known
    assert known == ["crashloop", "fail", "imagepull", "unready"]


def test_down_stops_process_left_unrecorded(home: Path) -> None:
    recorded = stopped_cluster("t")
    # A process that looks like the cluster's kwok: program name kwok, folder in its args.
    # `sleep; true` keeps the shell from replacing itself with sleep.
    pid = os.posix_spawn(
        "/bin/sh", ["kwok", "-c", "sleep 60; true", f"{recorded.folder}/kubeconfig"], {}
    )
    try:
        assert health.check(recorded).unrecorded == {pid: "kwok"}
        status_output = CliRunner().invoke(local_group, ["status", "t"])
        assert status_output.exit_code == 1
        assert f"kwok                     pid {pid:<8} alive, not recorded" in status_output.output

        assert cluster.down("t")

        deadline = time.monotonic() + 5
        while processes.is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not processes.is_alive(pid)
    finally:
        if processes.is_alive(pid):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # `down` reaps its own children
            os.waitpid(pid, 0)
