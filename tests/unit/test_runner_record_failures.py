"""Run records that cannot be stored: a taken name, a failed first write, lost writes."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from deployer.engine.workflow.memory import MemoryExecutor, MemoryRecordStore
from deployer.engine.workflow.parse import load_with_templates
from deployer.engine.workflow.record import RunExists
from deployer.engine.workflow.run_options import RunOptions
from deployer.engine.workflow.runner import Runner
from deployer.errors import ApiError, WorkflowError
from tests.unit.test_runner_scheduling import SAY, SUSPENDING, run, workflow, write

REFUSED = "connection to the API server failed: Connection refused"


class FailingStore(MemoryRecordStore):
    """A record store whose writes raise ApiError while `failing` is set."""

    def __init__(self, *, fail_create: bool = False) -> None:
        super().__init__()
        self.fail_create = fail_create
        self.failing = threading.Event()
        self.failed_saves = 0

    def create(self, record_data: dict[str, Any]) -> None:
        if self.fail_create:
            raise ApiError(REFUSED)
        super().create(record_data)

    def save(self, record_data: dict[str, Any]) -> None:
        if self.failing.is_set():
            self.failed_saves += 1
            raise ApiError(REFUSED)
        super().save(record_data)


ONE_STEP = """
  - name: main
    steps:
    - - {name: hello, template: say, arguments: {parameters: [{name: msg, value: hi}]}}
"""


def runner_for(path: Path, store: MemoryRecordStore, executor: MemoryExecutor) -> Runner:
    loaded, templates = load_with_templates(path)
    options = RunOptions(templates=templates, run_name="lost", record_lost_after=0.3)
    return Runner(loaded, executor=executor, store=store, options=options)


def suspending_with_exit_handler(tmp_path: Path) -> Path:
    return write(tmp_path, workflow("entrypoint: main\nonExit: report\n", SUSPENDING, SAY))


def test_taken_run_name_starts_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, workflow("entrypoint: main\n", ONE_STEP, SAY))
    store = MemoryRecordStore()
    first, _ = run(path, store=store, run_name="twice")
    stored = dict(store.records["twice"])
    second_executor = MemoryExecutor()

    with pytest.raises(RunExists) as caught:
        run(path, store=store, executor=second_executor, run_name="twice")

    message = str(caught.value)
    assert "run twice already exists (Succeeded)" in message
    assert "`deployer delete twice`" in message
    assert "metadata.generateName" in message
    assert second_executor.pods == []
    assert store.records["twice"] == stored
    assert first.phase == "Succeeded"


def test_record_creation_failure_starts_nothing(tmp_path: Path) -> None:
    path = suspending_with_exit_handler(tmp_path)
    store = FailingStore(fail_create=True)
    executor = MemoryExecutor()

    with pytest.raises(WorkflowError) as caught:
        runner_for(path, store, executor).run()

    assert str(caught.value) == f"run lost did not start: storing its record failed: {REFUSED}"
    assert executor.pods == []
    assert store.records == {}


def test_run_without_record_writes_stops(tmp_path: Path) -> None:
    path = suspending_with_exit_handler(tmp_path)
    store = FailingStore()
    executor = MemoryExecutor()
    runner = runner_for(path, store, executor)
    store.failing.set()
    started = time.monotonic()

    with pytest.raises(WorkflowError) as caught:
        runner.run()

    message = str(caught.value)
    assert message.startswith("run lost ended Error, but writing its record failed")
    assert REFUSED in message
    assert "`deployer retry lost`" in message
    assert runner.record.phase == "Error"
    assert runner.record.message.startswith(
        "run stopped because no write of its record succeeded for"
    )
    # The suspended step ends and the exit handler, which would need the cluster, never runs.
    assert executor.pods == []
    assert time.monotonic() - started < 10
    assert store.records["lost"]["phase"] == "Running"


def test_lost_run_record_states_reason(tmp_path: Path) -> None:
    path = suspending_with_exit_handler(tmp_path)
    store = FailingStore()
    runner = runner_for(path, store, MemoryExecutor())
    store.failing.set()

    def recover() -> None:
        while runner.shutdown != "lost":
            time.sleep(0.01)
        store.failing.clear()

    helper = threading.Thread(target=recover, daemon=True)
    helper.start()
    record = runner.run()
    helper.join(5)

    stored = store.load("lost")
    assert record.phase == "Error"
    assert stored.phase == "Error"
    assert stored.message == record.message
    assert "no write of its record succeeded for" in stored.message
    assert store.failed_saves >= 1
