"""Workflow CLI commands against an in-memory record store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from deployer.cli import workflow_cmds, workflow_control
from deployer.engine.workflow import liveness
from deployer.engine.workflow.memory import MemoryRecordStore
from deployer.model.run import NodeRecord, RunRecord, now_rfc3339


class MemoryTarget:
    """A command target whose record store is in memory and that has no cluster."""

    store = MemoryRecordStore()

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None):
        self.namespace = namespace

    def load(self, name: str) -> RunRecord:
        return self.store.load(name)

    @property
    def cluster(self) -> Any:
        raise AssertionError("the command must not reach the cluster")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemoryRecordStore:
    MemoryTarget.store = MemoryRecordStore()
    monkeypatch.setattr(workflow_cmds, "Target", MemoryTarget)
    monkeypatch.setattr(workflow_control, "Target", MemoryTarget)
    return MemoryTarget.store


def save_run(store: MemoryRecordStore, name: str, started: str, phase: str = "Succeeded") -> None:
    record = RunRecord(name=name, namespace="default", workflow={}, phase=phase, started=started)
    store.save(record.to_dict())


@pytest.mark.parametrize("output", ["name", "json", None])
def test_list_prints_newest_first(store: MemoryRecordStore, output: str | None) -> None:
    save_run(store, "approve-aaaaa", "2026-01-01T10:00:00Z")
    save_run(store, "zeta-bbbbb", "2026-01-01T12:00:00Z")
    save_run(store, "middle-ccccc", "2026-01-01T11:00:00Z")
    args = ["-o", output] if output else []
    result = CliRunner().invoke(workflow_cmds.list_cmd, args)
    assert result.exit_code == 0, result.output
    if output == "json":
        names = [run["name"] for run in json.loads(result.output)]
    else:
        lines = result.output.splitlines()[0 if output else 1 :]
        names = [line.split()[0] for line in lines]
    assert names == ["zeta-bbbbb", "middle-ccccc", "approve-aaaaa"]


def test_delete_rejects_live_run_without_force(store: MemoryRecordStore) -> None:
    record = RunRecord(
        name="approve-55mpv",
        namespace="default",
        workflow={},
        phase="Running",
        client=liveness.client_id(),
        heartbeat=now_rfc3339(),
    )
    store.save(record.to_dict())
    result = CliRunner().invoke(workflow_control.delete_cmd, ["approve-55mpv"])
    assert result.exit_code == 1
    assert "is still running in process" in str(result.exception)
    assert "--force" in str(result.exception)
    assert "approve-55mpv" in store.records


class ScheduledPods:
    """Pod lookups that return a pod with a node, as every pod of these runs has one."""

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": namespace}, "spec": {"nodeName": "n1"}}


class NoLogsCluster(ScheduledPods):
    """A cluster whose API server cannot reach any kubelet, like the local cluster."""

    def pod_log(self, name: str, namespace: str, **options: Any) -> list[str]:
        if name.endswith("0"):
            raise RuntimeError(
                f'Get "https://:10250/containerLogs/{namespace}/{name}/main": '
                "dial tcp :10250: connect: connection refused"
            )
        raise RuntimeError(
            f'Get "https://kwok-dev:10250/containerLogs/{namespace}/{name}/main": '
            "dial tcp: lookup kwok-dev: no such host"
        )


def test_logs_without_kubelet_print_one_line_per_pod(
    store: MemoryRecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunRecord(name="hello-abcde", namespace="default", workflow={}, phase="Succeeded")
    for index, result in enumerate(["hi", ""]):
        record.nodes[f"n{index}"] = NodeRecord(
            id=f"n{index}",
            name=f"hello-abcde.say{index}",
            display_name=f"say{index}",
            type="Pod",
            pod_name=f"hello-abcde-say{index}",
            result=result,
        )
    store.save(record.to_dict())
    monkeypatch.setattr(MemoryTarget, "cluster", NoLogsCluster())
    result = CliRunner().invoke(workflow_control.logs_cmd, ["hello-abcde"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert all("the cluster serves no container logs" in line for line in lines)
    assert not any("10250" in line for line in lines)
    assert lines[0].endswith("termination message of say0: hi")


class StreamingCluster(ScheduledPods):
    """Serves pod logs like a kubelet: `slow` sends its line only after `fast` has sent its own."""

    def __init__(self) -> None:
        self.fast_sent = threading.Event()
        self.follow_options: list[bool] = []

    def pod_log(self, name: str, namespace: str, **options: Any) -> Iterator[str]:
        self.follow_options.append(bool(options.get("follow")))
        if name.endswith("slow"):
            self.fast_sent.wait(5.0)
            yield "slow line"
            return
        yield "fast line"
        self.fast_sent.set()


def test_logs_follow_reads_every_pod_at_once(
    store: MemoryRecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunRecord(name="hello-abcde", namespace="default", workflow={}, phase="Succeeded")
    for index, suffix in enumerate(["slow", "fast"]):
        record.nodes[f"n{index}"] = NodeRecord(
            id=f"n{index}",
            name=f"hello-abcde.{suffix}",
            display_name=suffix,
            type="Pod",
            pod_name=f"hello-abcde-{suffix}",
            started=f"2026-01-01T10:00:0{index}Z",
        )
    store.save(record.to_dict())
    cluster = StreamingCluster()
    monkeypatch.setattr(MemoryTarget, "cluster", cluster)
    result = CliRunner().invoke(workflow_control.logs_cmd, ["hello-abcde", "-f"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["fast: fast line", "slow: slow line"]
    assert cluster.follow_options == [True, True]
