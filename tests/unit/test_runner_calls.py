"""Looped DAG tasks, template outputs, templateRef and rebuilding a run from its record."""

from __future__ import annotations

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501
import json
import textwrap
from pathlib import Path

from deployer.engine.workflow.memory import MemoryExecutor, MemoryRecordStore
from deployer.engine.workflow.run_options import RunOptions
from deployer.engine.workflow.runner import Runner
from deployer.engine.workflow.submit import prepare, prepare_retry
from tests.unit.test_runner_scheduling import SAY, node, run, workflow, write


def test_looped_dag_task_groups_children_and_aggregates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                dag:
                  tasks:
                  - {name: each, template: say, withItems: [a, b],
                     arguments: {parameters: [{name: msg, value: "x{{item}}"}]}}
                  - {name: any, template: say, depends: each.AnySucceeded,
                     arguments: {parameters: [{name: msg, value: "{{tasks.each.outputs.result}}"}]}}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert record.phase == "Succeeded"
    group = node(record, "each")
    assert group.type == "TaskGroup"
    assert [record.nodes[c].display_name for c in group.children] == ["each(0:a)", "each(1:b)"]
    assert json.loads(node(record, "any").result) == ["xa", "xb"]


def test_steps_template_outputs_from_its_steps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: inner, template: wrapper}
                - - {name: use, template: say, arguments: {parameters: [{name: msg, value: "got {{steps.inner.outputs.parameters.word}}"}]}}
              - name: wrapper
                steps:
                - - {name: speak, template: say, arguments: {parameters: [{name: msg, value: hello}]}}
                outputs:
                  parameters:
                  - name: word
                    valueFrom: {parameter: "{{steps.speak.outputs.result}}"}
            """,
            SAY,
        ),
    )
    record, _ = run(path)
    assert node(record, "inner").outputs == {"word": "hello"}
    assert node(record, "use").result == "got hello"


LIBRARY = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: library
spec:
  templates:
  - name: shout
    inputs:
      parameters: [{name: msg}]
    metadata:
      annotations:
        deployer.dev/sim-output: "{{=upper(inputs.parameters.msg)}}"
    container: {image: busybox:1.36}
"""

USES_LIBRARY = """
  - name: main
    steps:
    - - name: loud
        templateRef: {name: library, template: shout}
        arguments: {parameters: [{name: msg, value: "{{workflow.parameters.word}}"}]}
"""


def test_template_ref_calls_workflow_template_in_other_file(tmp_path: Path) -> None:
    (tmp_path / "library.yaml").write_text(textwrap.dedent(LIBRARY))
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\narguments: {parameters: [{name: word, value: hey}]}\n",
            USES_LIBRARY,
        ),
    )
    record, _ = run(path)
    assert record.phase == "Succeeded"
    assert node(record, "loud").result == "HEY"


def test_record_documents_rebuild_the_run_without_files(tmp_path: Path) -> None:
    (tmp_path / "library.yaml").write_text(textwrap.dedent(LIBRARY))
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\narguments: {parameters: [{name: word, value: hey}]}\n",
            USES_LIBRARY,
        ),
    )
    prepared = prepare(path)
    assert set(prepared.template_documents) == {"library"}
    store = MemoryRecordStore()
    options = RunOptions(
        templates=prepared.templates,
        document=prepared.document,
        template_documents=prepared.template_documents,
        run_name="stored",
        parameters={"word": "first"},
    )
    Runner(prepared.workflow, executor=MemoryExecutor(), store=store, options=options).run()
    (tmp_path / "library.yaml").unlink()
    path.unlink()

    recorded = store.load("stored")
    rebuilt = prepare_retry(recorded)
    retry_options = RunOptions(templates=rebuilt.templates, parameters={"word": "again"})
    record = Runner(
        rebuilt.workflow, executor=MemoryExecutor(), store=store, options=retry_options
    ).run()
    assert record.phase == "Succeeded"
    assert node(record, "loud").result == "AGAIN"


def test_workflow_arguments_fill_entrypoint_inputs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow("entrypoint: say\narguments: {parameters: [{name: msg, value: hi}]}\n", SAY),
    )

    record, executor = run(path)

    assert record.phase == "Succeeded"
    assert record.nodes[record.root or ""].inputs == {"msg": "hi"}
    assert len(executor.pods) == 1
