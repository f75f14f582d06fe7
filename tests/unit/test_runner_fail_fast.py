"""Failures inside a step group or DAG against the in-memory executor: who still runs, who is Omitted."""

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.model.run import RunRecord
from tests.unit.test_runner_scheduling import SAY, node, run, workflow, write

# A pod template that exits with the code it is given.
EXIT = """
  - name: exit
    inputs:
      parameters: [{name: code}]
    metadata:
      annotations:
        deployer.dev/sim-exit-code: "{{inputs.parameters.code}}"
    container: {image: busybox:1.36}
"""


def loop(options: str, items: str) -> str:
    """A steps template `main` with one step looping over exit codes."""
    return f"""
      - name: main
        {options}
        steps:
        - - {{name: loop, template: exit, withItems: {items}, arguments: {{parameters: [{{name: code, value: "{{{{item}}}}"}}]}}}}
    """


def children_of(record: RunRecord, display: str) -> list[str]:
    group = node(record, display)
    return [record.nodes[child].display_name for child in group.children]


@pytest.mark.parametrize("repeat", range(5))
def test_failed_loop_item_leaves_every_item_running(tmp_path: Path, repeat: int) -> None:
    path = write(
        tmp_path, workflow("entrypoint: main\n", loop("", "[1, 0, 0, 0, 0, 0, 0, 0]"), EXIT)
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    children = children_of(record, "[0]")
    assert children == [f"loop({i}:{1 if i == 0 else 0})" for i in range(8)]
    assert node(record, "loop(0:1)").phase == "Failed"
    for index in range(1, 8):
        assert node(record, f"loop({index}:0)").phase == "Succeeded"
    assert len(executor.pods) == 8
    assert node(record, "[0]").message == "child 'loop(0:1)' failed"


def test_invalid_when_leaves_siblings_running(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: bad, template: say, when: "{{=1 +}}", arguments: {parameters: [{name: msg, value: a}]}}
                  - {name: left, template: say, arguments: {parameters: [{name: msg, value: b}]}}
                  - {name: right, template: say, arguments: {parameters: [{name: msg, value: c}]}}
            """,
            SAY,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert node(record, "bad").phase == "Failed"
    assert "invalid when expression" in node(record, "bad").message
    assert node(record, "left").phase == "Succeeded"
    assert node(record, "right").phase == "Succeeded"
    assert len(executor.pods) == 2


def test_parallelism_without_fail_fast_runs_every_item(tmp_path: Path) -> None:
    path = write(
        tmp_path, workflow("entrypoint: main\n", loop("parallelism: 1", "[1, 0, 0, 0]"), EXIT)
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    phases = [node(record, name).phase for name in children_of(record, "[0]")]
    assert phases == ["Failed", "Succeeded", "Succeeded", "Succeeded"]
    assert executor.max_running == 1


def test_fail_fast_omits_items_waiting_for_a_slot(tmp_path: Path) -> None:
    options = "parallelism: 1\n        failFast: true"
    path = write(tmp_path, workflow("entrypoint: main\n", loop(options, "[0, 1, 0, 0]"), EXIT))
    record, executor = run(path)
    assert record.phase == "Failed"
    assert children_of(record, "[0]") == ["loop(0:0)", "loop(1:1)", "loop(2:0)", "loop(3:0)"]
    assert node(record, "loop(0:0)").phase == "Succeeded"
    assert node(record, "loop(1:1)").phase == "Failed"
    for name in ("loop(2:0)", "loop(3:0)"):
        omitted = node(record, name)
        assert omitted.phase == "Omitted"
        assert omitted.type == "Skipped"
        assert omitted.message == (
            "not started: child 'loop(1:1)' failed and template main sets failFast"
        )
    assert len(executor.pods) == 2
    assert node(record, "[0]").message == "child 'loop(1:1)' failed and template main sets failFast"


def test_fail_fast_fails_template_despite_continue_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                failFast: true
                steps:
                - - {name: bad, template: exit, continueOn: {failed: true}, arguments: {parameters: [{name: code, value: "1"}]}}
                - - {name: later, template: exit, arguments: {parameters: [{name: code, value: "0"}]}}
            """,
            EXIT,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert not any(n.display_name == "later" for n in record.nodes.values())
    assert len(executor.pods) == 1


def test_dag_fail_fast_false_runs_independent_branches(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                parallelism: 1
                dag:
                  failFast: false
                  tasks:
                  - {name: bad, template: exit, arguments: {parameters: [{name: code, value: "1"}]}}
                  - {name: other, template: exit, arguments: {parameters: [{name: code, value: "0"}]}}
            """,
            EXIT,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert node(record, "other").phase == "Succeeded"
    assert len(executor.pods) == 2


def test_dag_template_fail_fast_omits_waiting_tasks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                parallelism: 1
                failFast: true
                dag:
                  tasks:
                  - {name: bad, template: exit, arguments: {parameters: [{name: code, value: "1"}]}}
                  - {name: rescue, template: exit, depends: bad.Failed, arguments: {parameters: [{name: code, value: "0"}]}}
                  - {name: other, template: exit, arguments: {parameters: [{name: code, value: "0"}]}}
            """,
            EXIT,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert node(record, "bad").phase == "Failed"
    for name in ("rescue", "other"):
        omitted = node(record, name)
        assert omitted.phase == "Omitted"
        assert "child 'bad' failed and template main sets failFast" in omitted.message
    assert len(executor.pods) == 1


def test_dag_looped_task_fail_fast_omits_waiting_items(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                parallelism: 1
                failFast: true
                dag:
                  tasks:
                  - {name: each, template: exit, withItems: [1, 0, 0], arguments: {parameters: [{name: code, value: "{{item}}"}]}}
            """,
            EXIT,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert children_of(record, "each") == ["each(0:1)", "each(1:0)", "each(2:0)"]
    assert node(record, "each(1:0)").phase == "Omitted"
    assert node(record, "each(2:0)").phase == "Omitted"
    assert len(executor.pods) == 1


def test_dag_omitted_task_status_is_visible_downstream(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: ok, template: exit, arguments: {parameters: [{name: code, value: "0"}]}}
                  - {name: rescue, template: exit, depends: ok.Failed, arguments: {parameters: [{name: code, value: "0"}]}}
                  - {name: report, template: say, depends: rescue.Omitted, arguments: {parameters: [{name: msg, value: "{{tasks.rescue.status}}"}]}}
            """,
            EXIT,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "rescue").phase == "Omitted"
    assert node(record, "report").result == "Omitted"
