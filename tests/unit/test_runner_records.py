"""Run records: round trips, masking, coalesced writes, retry reuse, pod output conventions."""

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import base64
import dataclasses
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from deployer.engine.workflow import pods
from deployer.engine.workflow.masking import Masker
from deployer.engine.workflow.memory import MemoryExecutor, MemoryRecordStore
from deployer.engine.workflow.pods import PodResult
from deployer.engine.workflow.record_writer import RecordWriter
from deployer.model.run import NodeRecord, RunRecord
from tests.unit.test_runner_scheduling import SAY, node, run, workflow, write

THREE_STEPS = """
  - name: main
    steps:
    - - {name: one, template: say, arguments: {parameters: [{name: msg, value: "1"}]}}
    - - {name: two, template: gate}
    - - {name: three, template: say, arguments: {parameters: [{name: msg, value: "{{steps.one.outputs.result}}3"}]}}
  - name: gate
    inputs:
      parameters: [{name: code, value: "{{workflow.parameters.code}}"}]
    metadata: {annotations: {deployer.dev/sim-exit-code: "{{inputs.parameters.code}}"}}
    container: {image: busybox:1.36}
"""


def test_record_round_trips_through_dict() -> None:
    record = RunRecord(name="r", namespace="ns", workflow={"kind": "Workflow"}, phase="Running")
    record.nodes["r-1"] = NodeRecord(
        id="r-1", name="r", display_name="r", type="Steps", outputs={"x": "1"}, exit_code=0
    )
    again = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record


def test_masker_hides_secret_values_in_nested_data() -> None:
    masker = Masker()
    masker.add("hunter2")
    masked = masker.mask_data({"a": ["x hunter2 y"], "b": {"c": "hunter2"}, "n": 3})
    assert masked == {"a": ["x *** y"], "b": {"c": "***"}, "n": 3}


def test_secret_parameter_masked_in_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            arguments:
              parameters: [{name: db-password, value: s3cr3t-value}]
            """,
            """
              - name: main
                steps:
                - - {name: use, template: say,
                     arguments: {parameters: [{name: msg, value: "pw={{workflow.parameters.db-password}}"}]}}
            """,
            SAY,
        ),
    )
    store = MemoryRecordStore()
    record, _ = run(path, store=store, run_name="masked")
    text = json.dumps(store.records["masked"])
    assert "s3cr3t-value" not in text
    assert store.records["masked"]["parameters"]["db-password"] == "***"
    assert store.load_secrets("masked") == {"db-password": "s3cr3t-value"}
    assert record.phase == "Succeeded"


def test_record_writes_are_coalesced() -> None:
    store = MemoryRecordStore()
    state = {"name": "busy", "phase": "Running", "count": 0}
    writer = RecordWriter(store, lambda: dict(state), Masker(), interval=0.2)
    started = time.monotonic()
    writer.start()
    for count in range(200):
        state["count"] = count
        writer.changed()
        time.sleep(0.002)
    writer.close()
    elapsed = time.monotonic() - started
    assert store.records["busy"]["count"] == 199
    # One write at start, at most one per interval, and the final write.
    assert store.saves <= elapsed / 0.2 + 3
    assert store.saves < 50


def test_retry_reuses_succeeded_nodes_and_reruns_failed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            arguments:
              parameters: [{name: code, value: "1"}]
            """,
            THREE_STEPS,
            SAY,
        ),
    )
    store = MemoryRecordStore()
    first, first_pods = run(path, store=store, run_name="again")
    assert first.phase == "Failed"
    assert len(first_pods.pods) == 2
    previous = store.load("again")
    second, second_pods = run(path, store=store, previous=previous, parameters={"code": "0"})
    assert second.phase == "Succeeded"
    assert second.attempt == 1
    assert [p["metadata"]["annotations"]["deployer.dev/node-name"] for p in second_pods.pods] == [
        "again[1].two",
        "again[2].three",
    ]
    assert node(second, "three").result == "13"
    assert node(second, "one").id == node(first, "one").id


def test_interrupted_run_record_retries_running_nodes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            'entrypoint: main\narguments: {parameters: [{name: code, value: "0"}]}\n',
            THREE_STEPS,
            SAY,
        ),
    )
    store = MemoryRecordStore()
    done, _ = run(path, store=store, run_name="cut")
    data = store.records["cut"]
    # Make the record look like the process died while step `two` was running.
    for item in data["nodes"].values():
        if item["displayName"] in ("two", "three", "[1]", "[2]", "cut"):
            item["phase"] = "Running"
            item["finishedAt"] = None
    data["phase"] = "Running"
    retried, executor = run(path, store=store, previous=store.load("cut"))
    assert retried.phase == "Succeeded"
    assert done.phase == "Succeeded"
    assert len(executor.pods) == 2
    assert executor.pods_named("cut[0].one") == []


def test_termination_message_is_result_and_path_outputs() -> None:
    result = PodResult("Succeeded", termination_message='{"/tmp/a": "x", "/tmp/n": 5}')
    assert pods.read_result(result) == '{"/tmp/a": "x", "/tmp/n": 5}'
    assert pods.read_path(result, "/tmp/a") == "x"
    assert pods.read_path(result, "/tmp/n") == "5"
    assert pods.read_path(result, "/tmp/missing") is None
    assert pods.read_path(result, "/dev/termination-log") == result.termination_message


def test_log_is_result_when_no_termination_message() -> None:
    assert pods.read_result(PodResult("Succeeded", log="hello\n")) == "hello"


def test_pod_outcome_reads_main_container_and_waiting_errors() -> None:
    def pod(state: dict[str, Any], phase: str = "Running") -> dict[str, Any]:
        return {"status": {"phase": phase, "containerStatuses": [{"name": "main", "state": state}]}}

    ended = pods.pod_outcome(pod({"terminated": {"exitCode": 4, "message": "m"}}))
    assert ended is not None
    assert (ended.phase, ended.exit_code, ended.termination_message) == ("Failed", 4, "m")
    stuck = pods.pod_outcome(pod({"waiting": {"reason": "ImagePullBackOff", "message": "no"}}))
    assert stuck is not None
    assert stuck.phase == "Error"
    assert pods.pod_outcome(pod({"running": {}})) is None


def test_pod_names_fit_and_change_per_attempt() -> None:
    first = pods.pod_name("r" * 60, "t" * 60, "node", 0)
    second = pods.pod_name("r" * 60, "t" * 60, "node", 1)
    assert len(first) <= 63
    assert first != second


def test_memory_store_controls_reach_a_watcher() -> None:
    store = MemoryRecordStore()
    stop = threading.Event()
    seen: list[dict[str, str]] = []

    def watch() -> None:
        for controls in store.watch_controls("r", stop):
            seen.append(controls)
            if "resume" in controls:
                stop.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    store.request("r", "resume", "all")
    thread.join(2)
    assert seen[-1] == {"resume": "all"}


def test_entrypoint_missing_input_errors_without_pods(tmp_path: Path) -> None:
    path = write(tmp_path, workflow("entrypoint: say\narguments: {parameters: []}\n", SAY))
    executor = MemoryExecutor()
    record, _ = run(path, executor=executor)
    assert record.phase == "Error"
    assert "msg" in record.nodes[record.root or ""].message
    assert executor.pods == []


def test_output_read_from_secret_is_masked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: fetch, template: fetch}
                - - {name: use, template: say, arguments: {parameters: [{name: msg, value: "token {{steps.fetch.outputs.parameters.token}}"}]}}
              - name: fetch
                resource:
                  action: get
                  manifest: |
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: api}
                    stringData: {token: tok-123456}
                outputs:
                  parameters:
                  - name: token
                    valueFrom: {jsonPath: "{.stringData.token}"}
            """,
            SAY,
        ),
    )
    store = MemoryRecordStore()
    record, executor = run(path, store=store, run_name="secretive")
    assert record.phase == "Succeeded"
    assert executor.pods[0]["spec"]["containers"][0]["args"] == ["token tok-123456"]
    stored = json.dumps(store.records["secretive"])
    assert "tok-123456" not in stored
    assert "token ***" in stored


def test_abandoned_run_detected_by_pid_or_heartbeat() -> None:
    import datetime
    import os
    import socket

    from deployer.engine.workflow import liveness
    from deployer.model.run import now_rfc3339

    host = socket.gethostname()
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    running = RunRecord(name="r", namespace="ns", workflow={}, phase="Running")
    running.client, running.heartbeat = f"{host}:{os.getpid()}", now_rfc3339()
    assert not liveness.abandoned(running)
    running.client = f"{host}:999999999"
    assert liveness.abandoned(running)
    running.client = "elsewhere.example:1"
    assert not liveness.abandoned(running)
    running.heartbeat = old
    assert liveness.abandoned(running)
    running.phase = "Failed"
    assert not liveness.abandoned(running)


def test_large_record_stored_compressed_and_read_back() -> None:
    from deployer.engine.workflow.record import encode_record, record_from_configmap

    record = RunRecord(name="big", namespace="ns", workflow={}, phase="Running")
    for index in range(3000):
        record.nodes[f"big-{index}"] = NodeRecord(
            id=f"big-{index}",
            name=f"big[0].step({index}:x)",
            display_name="s",
            type="Pod",
            message="m" * 100,
        )
    encoded = encode_record(record.to_dict())
    assert "binaryData" in encoded
    assert "data" not in encoded
    decoded = record_from_configmap({"metadata": {"name": "big"}, **encoded})
    assert decoded == record
    small = encode_record(RunRecord(name="s", namespace="ns", workflow={}).to_dict())
    assert "data" in small


class LargeOutputExecutor(MemoryExecutor):
    """Ends every pod with a random, barely compressible termination message of `size` bytes."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def run_pod(self, pod: dict[str, Any], **options: Any) -> PodResult:
        ended = super().run_pod(pod, **options)
        text = base64.b64encode(os.urandom(self.size * 3 // 4)).decode()
        return dataclasses.replace(ended, termination_message=text)


LARGE_OUTPUTS = """
  - name: main
    steps:
    - - {name: big, template: say, withSequence: {count: "6"}, arguments: {parameters: [{name: msg, value: "{{item}}"}]}}
"""


def test_oversized_record_fails_run_with_clear_message(tmp_path: Path) -> None:
    store = MemoryRecordStore()
    path = write(tmp_path, workflow("entrypoint: main\n", LARGE_OUTPUTS, SAY))
    record, executor = run(path, executor=LargeOutputExecutor(250_000), store=store)
    assert record.phase == "Error"
    assert "even compressed, over the 1048576 bytes a ConfigMap can store" in record.message
    assert "the stored record keeps no node inputs, outputs or results" in record.message
    stored = store.load(record.name)
    assert stored.phase == "Error"
    assert stored.message == record.message
    children = [stored.nodes[c] for c in node(stored, "[0]").children]
    assert len(children) == 6
    assert all(child.phase in ("Succeeded", "Failed") for child in children)
    assert all(child.result is None for child in children)
    assert len(executor.pods) <= 6


def test_record_writer_survives_an_oversized_record() -> None:
    store = MemoryRecordStore()
    blob = base64.b64encode(os.urandom(1_000_000)).decode()
    nodes = {"n": {"id": "n", "inputs": {"blob": blob}, "outputs": {}, "message": ""}}
    state: dict[str, Any] = {"name": "huge", "phase": "Running", "nodes": nodes}
    reasons: list[str] = []
    writer = RecordWriter(
        store, lambda: dict(state), Masker(), interval=0.01, on_too_large=reasons.append
    )
    writer.start()
    state["phase"] = "Succeeded"
    writer.changed()
    writer.close()
    assert len(reasons) == 1
    assert "run record huge is" in reasons[0]
    assert writer.too_large == reasons[0]
    assert store.records["huge"]["phase"] == "Succeeded"
    assert store.records["huge"]["nodes"]["n"]["inputs"] == {}
