"""Scheduling of the workflow runner against the in-memory executor: order, loops, when, retries."""

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import json
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from deployer.engine.workflow.memory import MemoryExecutor, MemoryRecordStore
from deployer.engine.workflow.parse import load_with_templates
from deployer.engine.workflow.run_options import RunOptions
from deployer.engine.workflow.runner import Runner
from deployer.errors import WorkflowError
from deployer.model.run import RunRecord

SAY = """
  - name: say
    inputs:
      parameters: [{name: msg}]
    metadata:
      annotations:
        deployer.dev/sim-output: "{{inputs.parameters.msg}}"
    container:
      image: busybox:1.36
      args: ["{{inputs.parameters.msg}}"]
"""


def write(tmp_path: Path, body: str, *, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def run(
    path: Path,
    *,
    executor: MemoryExecutor | None = None,
    store: MemoryRecordStore | None = None,
    **options: Any,
) -> tuple[RunRecord, MemoryExecutor]:
    workflow, templates = load_with_templates(path)
    executor = executor or MemoryExecutor()
    runner = Runner(
        workflow,
        executor=executor,
        store=store or MemoryRecordStore(),
        options=RunOptions(templates=templates, **options),
    )
    return runner.run(), executor


def node(record: RunRecord, display: str) -> Any:
    found = [n for n in record.nodes.values() if n.display_name == display]
    assert found, f"no node {display}; nodes: {[n.display_name for n in record.nodes.values()]}"
    return found[0]


def workflow(spec: str, *templates: str) -> str:
    """Build a Workflow document from the spec fields and template list parts."""
    parts = [textwrap.indent(textwrap.dedent(t).strip("\n"), "  ") for t in templates or (SAY,)]
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: t-\n"
        + "spec:\n"
        + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
        + "\n  templates:\n"
        + "\n".join(parts)
        + "\n"
    )


def test_steps_groups_in_order_steps_parallel(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            """,
            """
              - name: main
                steps:
                - - {name: first, template: say, arguments: {parameters: [{name: msg, value: one}]}}
                - - {name: left, template: say, arguments: {parameters: [{name: msg, value: l}]}}
                  - {name: right, template: say, arguments: {parameters: [{name: msg, value: r}]}}
            """,
            SAY,
        ),
    )
    record, executor = run(path, executor=MemoryExecutor(pod_seconds=0.3))
    assert record.phase == "Succeeded"
    assert executor.max_running == 2
    order = [p["spec"]["containers"][0]["args"][0] for p in executor.pods]
    assert order[0] == "one"
    assert sorted(order[1:]) == ["l", "r"]
    assert node(record, "first").finished <= node(record, "left").started


def test_diamond_dag_runs_each_task_after_its_dependencies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: a, template: say, arguments: {parameters: [{name: msg, value: a}]}}
                  - {name: b, template: say, dependencies: [a],
                     arguments: {parameters: [{name: msg, value: "{{tasks.a.outputs.result}}b"}]}}
                  - {name: c, template: say, depends: a,
                     arguments: {parameters: [{name: msg, value: "{{tasks.a.outputs.result}}c"}]}}
                  - {name: d, template: say, depends: b && c,
                     arguments: {parameters: [{name: msg,
                       value: "{{tasks.b.outputs.result}}+{{tasks.c.outputs.result}}"}]}}
            """,
            SAY,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Succeeded"
    assert node(record, "d").result == "ab+ac"
    args = [p["spec"]["containers"][0]["args"][0] for p in executor.pods]
    assert args[0] == "a"
    assert args[-1] == "ab+ac"


def test_when_false_skips_and_bad_when_fails_showing_expression(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: flip, template: say, arguments: {parameters: [{name: msg, value: heads}]}}
                - - {name: heads, template: say, when: "{{steps.flip.outputs.result}} == heads",
                     arguments: {parameters: [{name: msg, value: h}]}}
                  - {name: tails, template: say, when: "{{steps.flip.outputs.result}} == tails",
                     arguments: {parameters: [{name: msg, value: t}]}}
                  - {name: broken, template: say, when: "{{steps.flip.outputs.result}} ==",
                     arguments: {parameters: [{name: msg, value: x}]},
                     continueOn: {failed: true}}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "heads").phase == "Succeeded"
    assert node(record, "tails").phase == "Skipped"
    assert node(record, "tails").type == "Skipped"
    broken = node(record, "broken")
    assert broken.phase == "Failed"
    assert "{{steps.flip.outputs.result}} ==" in broken.message
    assert record.phase == "Succeeded"


def test_with_items_maps_and_quotes_arrive_exactly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - name: each
                    template: say
                    arguments: {parameters: [{name: msg, value: "{{item}}"}]}
                    withItems:
                    - plain
                    - 'it''s "quoted"'
                    - '{"json": [1, "two"]}'
                    - {os: debian, version: 12}
            """,
            SAY,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Succeeded"
    args = sorted(p["spec"]["containers"][0]["args"][0] for p in executor.pods)
    assert args == sorted(
        ["plain", 'it\'s "quoted"', '{"json": [1, "two"]}', '{"os":"debian","version":12}']
    )
    assert node(record, "each(3:os:debian,version:12)").result == '{"os":"debian","version":12}'


def test_with_param_expands_an_earlier_steps_json_output(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: gen, template: say, arguments: {parameters: [{name: msg, value: '["a","b","c"]'}]}}
                - - {name: use, template: say, withParam: "{{steps.gen.outputs.result}}",
                     arguments: {parameters: [{name: msg, value: "got {{item}}"}]}}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert record.phase == "Succeeded"
    assert [node(record, f"use({i}:{x})").result for i, x in enumerate("abc")] == [
        "got a",
        "got b",
        "got c",
    ]


def test_retry_succeeds_on_second_attempt_from_retries_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: flaky\n",
            """
              - name: flaky
                retryStrategy: {limit: 3, retryPolicy: Always}
                metadata:
                  annotations:
                    deployer.dev/sim-exit-code: "{{=asInt(retries) < 1 ? '1' : '0'}}"
                container: {image: busybox:1.36}
            """,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Succeeded"
    root = record.nodes[record.root or ""]
    assert root.type == "Retry"
    assert [record.nodes[c].phase for c in root.children] == ["Failed", "Succeeded"]
    assert len(executor.pods) == 2


def test_retry_limit_stops_after_limit_plus_one_attempts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: bad\n",
            """
              - name: bad
                retryStrategy: {limit: 2}
                metadata: {annotations: {deployer.dev/sim-exit-code: "3"}}
                container: {image: busybox:1.36}
            """,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert len(executor.pods) == 3
    assert record.nodes[record.root or ""].exit_code == 3


def test_exit_handler_sees_failed_status_and_failures(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: bad\nonExit: report\n",
            """
              - name: bad
                metadata: {annotations: {deployer.dev/sim-exit-code: "2"}}
                container: {image: busybox:1.36}
              - name: report
                steps:
                - - name: tell
                    template: say
                    arguments:
                      parameters: [{name: msg, value: "{{workflow.status}} {{workflow.failures}}"}]
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert record.phase == "Failed"
    reported = node(record, "tell").result
    status, _, failures = reported.partition(" ")
    assert status == "Failed"
    assert json.loads(failures)[0]["templateName"] == "bad"


def test_recursion_deeper_than_limit_fails_clearly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: forever\n",
            """
              - name: forever
                steps:
                - - {name: again, template: forever}
            """,
        ),
    )
    record, _ = run(path, max_depth=5)
    assert record.phase == "Failed"
    deepest = [n for n in record.nodes.values() if "nested deeper than 5" in n.message]
    assert len(deepest) == 1


def test_parameter_override_and_unknown_parameter_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            arguments:
              parameters: [{name: who, value: world}]
            """,
            """
              - name: main
                steps:
                - - {name: hi, template: say,
                     arguments: {parameters: [{name: msg, value: "hi {{workflow.parameters.who}}"}]}}
            """,
            SAY,
        ),
    )
    record, _ = run(path, parameters={"who": "moon"})
    assert node(record, "hi").result == "hi moon"
    with pytest.raises(WorkflowError, match="unknown workflow parameter"):
        run(path, parameters={"whom": "x"})


def test_parallelism_limits_concurrent_pods(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                parallelism: 2
                steps:
                - - {name: each, template: say, withSequence: {count: "5"},
                     arguments: {parameters: [{name: msg, value: "{{item}}"}]}}
            """,
            SAY,
        ),
    )
    record, executor = run(path, executor=MemoryExecutor(pod_seconds=0.2))
    assert record.phase == "Succeeded"
    assert len(executor.pods) == 5
    assert executor.max_running == 2


def test_dag_failure_handled_by_depends_expression(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: bad, template: fail}
                  - {name: later, template: say, dependencies: [bad],
                     arguments: {parameters: [{name: msg, value: x}]}}
                  - {name: handler, template: say, depends: bad.Failed,
                     arguments: {parameters: [{name: msg, value: handled}]}}
              - name: fail
                metadata: {annotations: {deployer.dev/sim: fail}}
                container: {image: busybox:1.36}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "handler").phase == "Succeeded"
    assert node(record, "later").phase == "Omitted"
    assert record.phase == "Succeeded"


def test_dag_failure_named_by_bare_depends_fails_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: bad, template: fail}
                  - {name: after, template: say, depends: bad,
                     arguments: {parameters: [{name: msg, value: x}]}}
              - name: fail
                metadata: {annotations: {deployer.dev/sim: fail}}
                container: {image: busybox:1.36}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "bad").phase == "Failed"
    assert record.phase == "Failed"


def test_dag_continue_on_meets_dependencies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: A, template: say, arguments: {parameters: [{name: msg, value: a}]}}
                  - {name: B, template: fail, dependencies: [A], continueOn: {failed: true}}
                  - {name: C, template: say, dependencies: [A], arguments: {parameters: [{name: msg, value: c}]}}
                  - {name: D, template: say, dependencies: [B, C], arguments: {parameters: [{name: msg, value: d}]}}
                  - {name: E, template: say, depends: B, arguments: {parameters: [{name: msg, value: e}]}}
                  - {name: F, template: say, depends: B.Succeeded, arguments: {parameters: [{name: msg, value: f}]}}
                  - {name: G, template: pull, continueOn: {error: true}}
                  - {name: H, template: say, dependencies: [G], arguments: {parameters: [{name: msg, value: h}]}}
                  - {name: I, template: say, depends: G, arguments: {parameters: [{name: msg, value: i}]}}
              - name: fail
                metadata: {annotations: {deployer.dev/sim: fail}}
                container: {image: busybox:1.36}
              - name: pull
                metadata: {annotations: {deployer.dev/sim: imagepull}}
                container: {image: busybox:1.36}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "B").phase == "Failed"
    assert node(record, "G").phase == "Error"
    for name in ("D", "E", "H", "I"):
        assert node(record, name).phase == "Succeeded", name
    assert node(record, "F").phase == "Omitted"
    assert record.phase == "Succeeded"


def test_dag_continue_on_failed_does_not_cover_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  failFast: false
                  tasks:
                  - {name: G, template: pull, continueOn: {failed: true}}
                  - {name: H, template: say, dependencies: [G], arguments: {parameters: [{name: msg, value: h}]}}
              - name: pull
                metadata: {annotations: {deployer.dev/sim: imagepull}}
                container: {image: busybox:1.36}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "G").phase == "Error"
    assert node(record, "H").phase == "Omitted"
    assert record.phase == "Failed"


def test_dag_fail_fast_starts_nothing_after_a_failure(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                parallelism: 1
                dag:
                  tasks:
                  - {name: bad, template: fail}
                  - {name: other, template: say, arguments: {parameters: [{name: msg, value: x}]}}
              - name: fail
                metadata: {annotations: {deployer.dev/sim: fail}}
                container: {image: busybox:1.36}
            """,
            SAY,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert node(record, "bad").phase == "Failed"
    other = node(record, "other")
    assert other.phase == "Omitted"
    assert "task 'bad' failed" in other.message
    assert other.id in node(record, record.name).children
    assert len(executor.pods) == 1


def test_continue_on_failed_lets_later_groups_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: bad, template: fail, continueOn: {failed: true}}
                - - {name: next, template: say, arguments: {parameters: [{name: msg, value: n}]}}
              - name: fail
                metadata: {annotations: {deployer.dev/sim-exit-code: "1"}}
                container: {image: busybox:1.36}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "bad").phase == "Failed"
    assert node(record, "next").phase == "Succeeded"
    assert record.phase == "Succeeded"


SUSPENDING = """
  - name: main
    steps:
    - - {name: wait, template: pause}
    - - {name: after, template: say, arguments: {parameters: [{name: msg, value: done}]}}
  - name: pause
    suspend: {}
  - name: report
    steps:
    - - {name: tell, template: say, arguments: {parameters: [{name: msg, value: "{{workflow.status}}"}]}}
"""


def run_in_background(
    path: Path, store: MemoryRecordStore
) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def work() -> None:
        box["record"], _ = run(path, store=store, run_name="paused")

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, box


def wait_for_phase(store: MemoryRecordStore, display: str, phase: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = store.records.get("paused")
        if data and any(
            n["displayName"] == display and n["phase"] == phase for n in data["nodes"].values()
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"node {display} never reached {phase}")


def test_suspend_waits_until_resume_requested(tmp_path: Path) -> None:
    path = write(tmp_path, workflow("entrypoint: main\n", SUSPENDING, SAY))
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store)
    wait_for_phase(store, "wait", "Running")
    time.sleep(0.3)
    assert thread.is_alive()
    store.request("paused", "resume", "all")
    thread.join(5)
    assert box["record"].phase == "Succeeded"
    assert node(box["record"], "after").phase == "Succeeded"


@pytest.mark.parametrize(("control", "handler_runs"), [("stop", True), ("terminate", False)])
def test_stop_runs_exit_handler_and_terminate_does_not(
    tmp_path: Path, control: str, handler_runs: bool
) -> None:
    path = write(tmp_path, workflow("entrypoint: main\nonExit: report\n", SUSPENDING, SAY))
    store = MemoryRecordStore()
    thread, box = run_in_background(path, store)
    wait_for_phase(store, "wait", "Running")
    store.request("paused", control, "true")
    thread.join(5)
    record = box["record"]
    assert record.phase == "Failed"
    assert not any(n.display_name == "after" for n in record.nodes.values())
    assert (record.exit_root is not None) is handler_runs
    if handler_runs:
        assert node(record, "tell").result == "Failed"
