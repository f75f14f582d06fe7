"""Stop, retry and the node tree of a run in progress, against the in-memory executor."""

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from deployer.engine.workflow.memory import MemoryExecutor, MemoryRecordStore
from deployer.engine.workflow.nodes import node_id
from tests.unit.test_runner_records import THREE_STEPS
from tests.unit.test_runner_scheduling import (
    SAY,
    SUSPENDING,
    node,
    run,
    wait_for_phase,
    workflow,
    write,
)


def run_in_background(
    path: Path, store: MemoryRecordStore, executor: MemoryExecutor
) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def work() -> None:
        box["record"], _ = run(path, store=store, executor=executor, run_name="paused")

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, box


def test_retry_runs_exit_handler_again(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            onExit: report
            arguments:
              parameters: [{name: code, value: "1"}]
            """,
            THREE_STEPS,
            SAY,
            """
              - name: report
                steps:
                - - {name: tell, template: say, arguments: {parameters: [{name: msg, value: "status was {{workflow.status}}"}]}}
            """,
        ),
    )
    store = MemoryRecordStore()
    first, _ = run(path, store=store, run_name="exitretry")
    assert first.phase == "Failed"
    assert node(first, "tell").result == "status was Failed"
    second, executor = run(
        path, store=store, previous=store.load("exitretry"), parameters={"code": "0"}
    )
    assert second.phase == "Succeeded"
    assert node(second, "tell").result == "status was Succeeded"
    assert len(executor.pods_named("exitretry.onExit")) == 1
    assert second.exit_root == node_id("exitretry", "exitretry.onExit")


def test_repeated_stop_leaves_exit_handler_running(tmp_path: Path) -> None:
    path = write(tmp_path, workflow("entrypoint: main\nonExit: report\n", SUSPENDING, SAY))
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store, MemoryExecutor(pod_seconds=0.6))
    wait_for_phase(store, "wait", "Running")
    store.request("paused", "stop", "true")
    wait_for_phase(store, "tell", "Running")
    # The cluster's control watch reports the stop again on every record write.
    store.request("paused", "stop", "again")
    thread.join(5)
    record = box["record"]
    assert record.phase == "Failed"
    assert node(record, "tell").phase == "Succeeded"
    assert node(record, "tell").result == "Failed"


def test_terminate_cancels_running_exit_handler(tmp_path: Path) -> None:
    path = write(tmp_path, workflow("entrypoint: main\nonExit: report\n", SUSPENDING, SAY))
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store, MemoryExecutor(pod_seconds=3))
    wait_for_phase(store, "wait", "Running")
    store.request("paused", "stop", "true")
    wait_for_phase(store, "tell", "Running")
    store.request("paused", "terminate", "true")
    thread.join(2)
    assert not thread.is_alive()
    assert node(box["record"], "tell").phase == "Failed"


def test_running_record_names_its_roots(tmp_path: Path) -> None:
    path = write(tmp_path, workflow("entrypoint: main\nonExit: report\n", SUSPENDING, SAY))
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store, MemoryExecutor(pod_seconds=0.6))
    wait_for_phase(store, "wait", "Running")
    assert store.records["paused"]["root"] == node_id("paused", "paused")
    store.request("paused", "stop", "true")
    wait_for_phase(store, "tell", "Running")
    assert store.records["paused"]["exitRoot"] == node_id("paused", "paused.onExit")
    thread.join(5)
    assert box["record"].root == node_id("paused", "paused")
