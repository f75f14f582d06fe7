"""Leaves and limits of the runner in memory: deadlines, retry policies, resources, kinds."""

from __future__ import annotations

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501
import time
from pathlib import Path
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.workflow.memory import MemoryExecutor
from tests.unit.test_runner_scheduling import SAY, node, run, workflow, write


def test_template_timeout_fails_a_slow_pod(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: slow\n",
            """
              - name: slow
                timeout: 300ms
                container: {image: busybox:1.36}
            """,
        ),
    )
    started = time.monotonic()
    record, _ = run(path, executor=MemoryExecutor(pod_seconds=5))
    assert record.phase == "Failed"
    assert "deadline" in record.nodes[record.root or ""].message
    assert time.monotonic() - started < 3


def test_workflow_deadline_stops_the_run_and_runs_exit_handler(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: slow\nactiveDeadlineSeconds: 1\nonExit: report\n",
            """
              - name: slow
                container: {image: busybox:1.36}
              - name: report
                resource:
                  action: apply
                  manifest: |
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: report}
                    data: {status: "{{workflow.status}}"}
            """,
        ),
    )
    executor = MemoryExecutor(pod_seconds=10)
    started = time.monotonic()
    record, _ = run(path, executor=executor)
    assert time.monotonic() - started < 5
    assert record.phase == "Failed"
    assert executor.resources[0].manifests[0]["data"] == {"status": "Failed"}


def test_retry_expression_stops_retries_on_other_exit_codes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: bad\n",
            """
              - name: bad
                retryStrategy:
                  limit: 5
                  retryPolicy: Always
                  expression: "asInt(lastRetry.exitCode) == 2"
                metadata: {annotations: {deployer.dev/sim-exit-code: "{{=asInt(retries) == 0 ? '2' : '7'}}"}}
                container: {image: busybox:1.36}
            """,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert len(executor.pods) == 2
    assert record.nodes[record.root or ""].exit_code == 7


def test_on_error_policy_does_not_retry_failures(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: bad\n",
            """
              - name: bad
                retryStrategy: {limit: 3, retryPolicy: OnError}
                metadata: {annotations: {deployer.dev/sim-exit-code: "1"}}
                container: {image: busybox:1.36}
            """,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Failed"
    assert len(executor.pods) == 1


def test_image_pull_failure_is_an_error_node(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: pull\n",
            """
              - name: pull
                metadata: {annotations: {deployer.dev/sim: imagepull}}
                container: {image: example.invalid/none:1}
            """,
        ),
    )
    record, _ = run(path)
    assert record.phase == "Error"
    assert "ImagePullBackOff" in record.nodes[record.root or ""].message


def test_resource_manifest_documents_and_json_path_output(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: main\n",
            """
              - name: main
                steps:
                - - {name: make, template: make}
                - - {name: tell, template: say, arguments: {parameters: [{name: msg, value: "{{steps.make.outputs.parameters.mode}}"}]}}
              - name: make
                resource:
                  action: apply
                  manifest: |
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: first}
                    data: {mode: "{{workflow.name}}"}
                    ---
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: second}
                outputs:
                  parameters:
                  - name: mode
                    valueFrom: {jsonPath: "{.data.mode}"}
            """,
            SAY,
        ),
    )
    record, executor = run(path, namespace="apps", run_name="res")
    assert record.phase == "Succeeded"
    request = executor.resources[0]
    assert [m["metadata"]["name"] for m in request.manifests] == ["first", "second"]
    assert request.namespace == "apps"
    assert node(record, "tell").result == "res"


def test_deployer_kind_gets_substituted_spec(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: db
            arguments:
              parameters: [{name: ns, value: shop}]
            """,
            """
              - name: db
                manifests:
                  paths: [db]
                  namespace: "{{workflow.parameters.ns}}"
            """,
        ),
    )
    record, executor = run(path)
    assert record.phase == "Succeeded"
    assert record.nodes[record.root or ""].type == "Manifests"
    assert executor.kinds == [("manifests", {"paths": ["db"], "namespace": "shop"})]


def test_deployer_kind_receives_output_declarations(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            "entrypoint: db\narguments: {parameters: [{name: svc, value: db}]}\n",
            """
              - name: db
                manifests: {paths: [db]}
                outputs:
                  parameters:
                  - name: address
                    valueFrom: {jsonPath: "{.spec.clusterIP}", object: "Service/{{workflow.parameters.svc}}"}
            """,
        ),
    )
    seen: list[object] = []

    class Recording(MemoryExecutor):
        def run_kind(self, kind: str, spec: Any, ctx: TemplateContext) -> TemplateResult:
            seen.append(ctx.output_parameters)
            seen.append(ctx.workflow_name)
            return TemplateResult("Succeeded", outputs={"address": "10.0.0.7"})

    record, _ = run(path, executor=Recording())
    assert record.phase == "Succeeded"
    assert seen[0] == [
        {"name": "address", "valueFrom": {"jsonPath": "{.spec.clusterIP}", "object": "Service/db"}}
    ]
    assert seen[1] == "t"
    assert record.nodes[record.root or ""].outputs == {"address": "10.0.0.7"}
