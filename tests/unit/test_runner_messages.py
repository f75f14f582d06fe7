"""Node and run messages of the workflow runner: stopped runs and `when` results."""

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.engine.workflow.memory import MemoryExecutor, MemoryRecordStore
from tests.unit.test_runner_controls import run_in_background
from tests.unit.test_runner_scheduling import (
    SAY,
    SUSPENDING,
    node,
    run,
    wait_for_phase,
    workflow,
    write,
)


@pytest.mark.parametrize(
    ("control", "message"), [("stop", "run stopped"), ("terminate", "run terminated")]
)
def test_stopped_run_message_names_the_control(tmp_path: Path, control: str, message: str) -> None:
    path = write(tmp_path, workflow("entrypoint: main\n", SUSPENDING, SAY))
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store, MemoryExecutor())
    wait_for_phase(store, "wait", "Running")
    store.request("paused", control, "true")
    thread.join(5)
    record = box["record"]
    assert record.message == message
    assert node(record, "wait").message == f"{message} while suspended"
    assert node(record, "[0]").message == message


def test_stopped_dag_run_message_says_stopped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: wait, template: pause}
                  - {name: after, template: say, depends: wait, arguments: {parameters: [{name: msg, value: done}]}}
              - name: pause
                suspend: {}
            """,
            SAY,
        ),
    )
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store, MemoryExecutor())
    wait_for_phase(store, "wait", "Running")
    store.request("paused", "stop", "true")
    thread.join(5)
    record = box["record"]
    assert record.message == "run stopped"
    assert record.nodes[record.root or ""].message == "run stopped"


def test_when_message_shows_substituted_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: hello, template: say, arguments: {parameters: [{name: msg, value: yo}]}}
                - - {name: nope, template: say, when: "{{steps.hello.outputs.result}} == nope", arguments: {parameters: [{name: msg, value: x}]}}
                  - {name: broken, template: say, when: "{{steps.hello.outputs.result}} ==", arguments: {parameters: [{name: msg, value: x}]}, continueOn: {failed: true}}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "nope").message == (
        "when '{{steps.hello.outputs.result}} == nope' ('yo == nope') evaluated false"
    )
    broken = node(record, "broken").message
    assert broken.startswith(
        "invalid when expression '{{steps.hello.outputs.result}} ==' ('yo ==')"
    )


def test_when_number_against_text_fails_node(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: count, template: say, arguments: {parameters: [{name: msg, value: "5"}]}}
                - - {name: compare, template: say, when: "{{steps.count.outputs.result}} > abc", arguments: {parameters: [{name: msg, value: x}]}}
            """,
            SAY,
        ),
    )

    record, executor = run(path)

    compare = node(record, "compare")
    assert record.phase == "Failed"
    assert compare.phase == "Failed"
    assert compare.message.startswith(
        "invalid when expression '{{steps.count.outputs.result}} > abc' ('5 > abc')"
    )
    assert "cannot order the number 5 and the text 'abc'" in compare.message
    assert len(executor.pods) == 1
