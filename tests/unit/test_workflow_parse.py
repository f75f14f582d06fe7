"""Parsing Argo-form Workflow and WorkflowTemplate files into the workflow model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from deployer.engine.workflow.parse import (
    load_with_templates,
    load_workflow,
    load_workflow_templates,
    parse_workflow,
)
from deployer.errors import WorkflowError

HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-world-
  labels: {team: platform}
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: message
      value: hello world
  templates:
  - name: main
    inputs:
      parameters:
      - name: message
    container:
      image: busybox
      command: [echo]
      args: ["{{inputs.parameters.message}}"]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def minimal(template_extra: str = "", spec_extra: str = "") -> str:
    """Return a one-template workflow with extra lines spliced into the template and spec."""
    return (
        "apiVersion: argoproj.io/v1alpha1\n"
        "kind: Workflow\n"
        "metadata: {name: wf}\n"
        "spec:\n"
        "  entrypoint: main\n"
        f"{spec_extra}"
        "  templates:\n"
        "  - name: main\n"
        "    container: {image: busybox}\n"
        f"{template_extra}"
    )


def test_hello_world_parses(tmp_path: Path) -> None:
    workflow = load_workflow(write(tmp_path, "hello.yaml", HELLO))

    assert workflow.kind == "Workflow"
    assert workflow.name == ""
    assert workflow.generate_name == "hello-world-"
    assert workflow.labels == {"team": "platform"}
    assert workflow.entrypoint == "main"
    assert [(p.name, p.value) for p in workflow.arguments] == [("message", "hello world")]
    main = workflow.templates["main"]
    assert main.kind == "container"
    assert main.body["image"] == "busybox"
    assert main.body["args"] == ["{{inputs.parameters.message}}"]
    assert [p.name for p in main.inputs] == ["message"]
    assert main.line == 13
    assert workflow.source_file == str(tmp_path / "hello.yaml")


@pytest.mark.parametrize(
    ("template_extra", "spec_extra", "path"),
    [
        ("    artifacts: {}\n", "", "spec.templates[0].artifacts"),
        ("    memoize: {key: x}\n", "", "spec.templates[0].memoize"),
        ("    synchronization: {mutex: {name: m}}\n", "", "spec.templates[0].synchronization"),
        ("    volumes: []\n", "", "spec.templates[0].volumes"),
        ("    daemon: true\n", "", "spec.templates[0].daemon"),
        ("    nodeSelector: {a: b}\n", "", "spec.templates[0].nodeSelector"),
        ("    inputs: {artifacts: []}\n", "", "spec.templates[0].inputs.artifacts"),
        (
            "    inputs: {parameters: [{name: a, valueFrom: {path: /x}}]}\n",
            "",
            "spec.templates[0].inputs.parameters[0].valueFrom",
        ),
        ("    outputs: {artifacts: []}\n", "", "spec.templates[0].outputs.artifacts"),
        (
            "    inputs: {parameters: [{name: a, globalName: g}]}\n",
            "",
            "spec.templates[0].inputs.parameters[0].globalName",
        ),
        (
            "    outputs: {parameters: [{name: a, valueFrom: {jqFilter: .}}]}\n",
            "",
            "spec.templates[0].outputs.parameters[0].valueFrom.jqFilter",
        ),
        (
            "    retryStrategy: {limit: 2, affinity: {}}\n",
            "",
            "spec.templates[0].retryStrategy.affinity",
        ),
        (
            "    retryStrategy: {backoff: {cap: 1}}\n",
            "",
            "spec.templates[0].retryStrategy.backoff.cap",
        ),
        ("    outputs: {result: x}\n", "", "spec.templates[0].outputs.result"),
        (
            "    outputs: {parameters: [{name: a, valueFrom: {supplied: {}}}]}\n",
            "",
            "spec.templates[0].outputs.parameters[0].valueFrom.supplied",
        ),
        ("", "  volumes: []\n", "spec.volumes"),
        ("", "  hooks: {exit: {template: main}}\n", "spec.hooks"),
        ("", "  synchronization: {}\n", "spec.synchronization"),
        ("", "  podGC: {strategy: OnPodSuccess}\n", "spec.podGC"),
        ("", "  templateDefaults: {}\n", "spec.templateDefaults"),
        ("", "  arguments: {artifacts: []}\n", "spec.arguments.artifacts"),
    ],
)
def test_unsupported_field_is_named(template_extra: str, spec_extra: str, path: str) -> None:
    text = minimal(template_extra, spec_extra)

    with pytest.raises(WorkflowError) as caught:
        parse_workflow(yaml.safe_load(text), file="wf.yaml")

    assert f"not supported: {path}" in str(caught.value)
    assert "wf.yaml" in str(caught.value)


STEP_WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: a
        template: leaf
        STEP_EXTRA
  - name: dag
    dag:
      tasks:
      - name: t
        template: leaf
        TASK_EXTRA
  - name: leaf
    container: {image: busybox}
"""


@pytest.mark.parametrize(
    ("extra", "task_extra", "path"),
    [
        ("hooks: {exit: {template: leaf}}", "", "spec.templates[0].steps[0][0].hooks"),
        ("inline: {container: {image: x}}", "", "spec.templates[0].steps[0][0].inline"),
        (
            "templateRef: {name: x, template: y, clusterScope: true}",
            "",
            "spec.templates[0].steps[0][0].templateRef.clusterScope",
        ),
        (
            "continueOn: {failed: true, other: 1}",
            "",
            "spec.templates[0].steps[0][0].continueOn.other",
        ),
        (
            "withSequence: {count: 2, step: 1}",
            "",
            "spec.templates[0].steps[0][0].withSequence.step",
        ),
        ("", "hooks: {}", "spec.templates[1].dag.tasks[0].hooks"),
        ("", "dependencies: []\n        target: x", "spec.templates[1].dag.tasks[0].target"),
    ],
)
def test_unsupported_call_field_is_named(
    tmp_path: Path, extra: str, task_extra: str, path: str
) -> None:
    text = STEP_WORKFLOW.replace("STEP_EXTRA", extra).replace("TASK_EXTRA", task_extra)
    with pytest.raises(WorkflowError) as caught:
        load_workflow(write(tmp_path, "wf.yaml", text))

    assert f"not supported: {path}" in str(caught.value)


def test_unsupported_field_error_has_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.yaml", minimal("    artifacts: {}\n"))

    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)

    assert str(caught.value) == f"{path}:9: not supported: spec.templates[0].artifacts"


def test_misspelled_field_suggests_the_known_one(tmp_path: Path) -> None:
    text = minimal().replace("entrypoint:", "entrypiont:")

    with pytest.raises(WorkflowError, match=r"spec.entrypiont \(did you mean entrypoint\?\)"):
        load_workflow(write(tmp_path, "wf.yaml", text))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = minimal("    artifacts: {}\n    memoize: {}\n", "  volumes: []\n")

    with pytest.raises(WorkflowError) as caught:
        load_workflow(write(tmp_path, "wf.yaml", text))

    message = str(caught.value)
    assert message.startswith("3 problems in ")
    assert "spec.volumes" in message
    assert "spec.templates[0].artifacts" in message
    assert "spec.templates[0].memoize" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            minimal().replace("argoproj.io/v1alpha1", "argoproj.io/v2"),
            "must be argoproj.io/v1alpha1",
        ),
        (
            minimal().replace("kind: Workflow", "kind: CronWorkflow"),
            "not supported: kind CronWorkflow",
        ),
        (
            minimal().replace("argoproj.io/v1alpha1", "v1"),
            "no argoproj.io/v1alpha1 Workflow or WorkflowTemplate document found",
        ),
        (minimal() + "    script: {image: x, source: y}\n", "needs exactly one of"),
        (minimal().replace("container: {image: busybox}", "inputs: {}"), "found none"),
        (minimal() + "  - name: main\n    suspend: {}\n", "duplicate template name 'main'"),
        (minimal().replace("name: main", "name: Bad_Name"), "must match"),
        (minimal().replace("{image: busybox}", "{command: [x]}"), "image is missing"),
        (minimal() + "    parallelism: two\n", "parallelism must be an integer"),
        (minimal() + "    failFast: yes please\n", "failFast must be true or false"),
        (
            minimal() + "    activeDeadlineSeconds: soon\n",
            "activeDeadlineSeconds must be an integer",
        ),
        (minimal() + "    retryStrategy: {retryPolicy: Sometimes}\n", "'Sometimes' is not one of"),
        (minimal().replace("metadata: {name: wf}", "metadata: {labels: {a: b}}"), "metadata.name"),
        (minimal() + "    container: {image: other}\n", "duplicate key 'container'"),
    ],
)
def test_malformed_workflow_is_rejected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        load_workflow(write(tmp_path, "wf.yaml", text))


def test_scalar_values_become_argo_text(tmp_path: Path) -> None:
    text = minimal(
        "    inputs:\n"
        "      parameters:\n"
        "      - {name: count, value: 3}\n"
        "      - {name: flag, value: true}\n"
        "      - {name: date, value: 2021-01-01}\n"
        "      - {name: ratio, default: 0.5}\n"
        "      - {name: whole, default: 2.0}\n"
        "      - {name: choice, enum: [1, b]}\n"
    )

    template = load_workflow(write(tmp_path, "wf.yaml", text)).templates["main"]

    values = {p.name: p.value or p.default for p in template.inputs}
    assert values["count"] == "3"
    assert values["flag"] == "true"
    assert values["date"] == "2021-01-01"
    assert values["ratio"] == "0.5"
    assert values["whole"] == "2"
    assert template.input("choice") is not None
    assert template.input("choice").enum == ["1", "b"]  # type: ignore[union-attr]


def test_structured_parameter_value_is_rejected(tmp_path: Path) -> None:
    text = minimal("    inputs: {parameters: [{name: p, value: {a: 1}}]}\n")

    with pytest.raises(WorkflowError, match="must be a string; quote JSON text"):
        load_workflow(write(tmp_path, "wf.yaml", text))


def test_loop_items_keep_their_exact_values(tmp_path: Path) -> None:
    text = STEP_WORKFLOW.replace(
        "STEP_EXTRA",
        """withItems:
        - plain
        - "it's \\"quoted\\""
        - '{"a": [1, 2]}'
        - 2021-01-01
        - 7
        - {name: x, size: 2}""",
    ).replace("TASK_EXTRA", "")

    step = load_workflow(write(tmp_path, "wf.yaml", text)).templates["main"].steps[0][0]

    assert step.with_items == [
        "plain",
        'it\'s "quoted"',
        '{"a": [1, 2]}',
        "2021-01-01",
        7,
        {"name": "x", "size": 2},
    ]


def test_steps_and_dag_are_parsed(tmp_path: Path) -> None:
    text = """\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: wf}
    spec:
      entrypoint: main
      onExit: leaf
      parallelism: 2
      templates:
      - name: main
        steps:
        - - name: a
            template: leaf
            when: "{{workflow.parameters.x}} == 1"
            continueOn: {failed: true}
          - name: b
            templateRef: {name: shared, template: hello}
            withParam: "{{workflow.parameters.list}}"
        - - name: c
            template: leaf
            withSequence: {start: 1, end: 3, format: "n-%02d"}
            onExit: leaf
      - name: dag
        dag:
          failFast: false
          tasks:
          - {name: A, template: leaf}
          - {name: B, template: leaf, dependencies: [A]}
          - {name: C, template: leaf, depends: "A.Succeeded || B.Failed"}
      - name: leaf
        retryStrategy:
          limit: "{{workflow.parameters.retries}}"
          backoff: {duration: 1s, factor: 2, maxDuration: 1m}
        suspend: {duration: 10s}
      - name: pod
        metadata:
          annotations: {deployer.dev/sim-output: heads}
        container: {image: busybox}
    """
    workflow = load_workflow(write(tmp_path, "wf.yaml", text))

    assert workflow.on_exit == "leaf"
    assert workflow.parallelism == 2
    main = workflow.templates["main"]
    assert [[s.name for s in group] for group in main.steps] == [["a", "b"], ["c"]]
    a, b = main.steps[0]
    assert a.when == "{{workflow.parameters.x}} == 1"
    assert a.continue_on is not None and a.continue_on.failed
    assert b.template is None
    assert b.target == "shared/hello"
    assert b.with_param == "{{workflow.parameters.list}}"
    c = main.steps[1][0]
    assert c.with_sequence is not None
    assert (c.with_sequence.start, c.with_sequence.end, c.with_sequence.format) == (
        "1",
        "3",
        "n-%02d",
    )
    assert c.on_exit == "leaf"
    dag = workflow.templates["dag"]
    assert dag.dag_fail_fast is False
    assert [t.dependencies for t in dag.dag] == [[], ["A"], []]
    assert dag.dag[2].depends == "A.Succeeded || B.Failed"
    leaf = workflow.templates["leaf"]
    assert leaf.kind == "suspend"
    assert leaf.suspend_duration == "10s"
    assert leaf.retry_strategy is not None
    assert leaf.retry_strategy.limit == "{{workflow.parameters.retries}}"
    assert leaf.retry_strategy.retry_policy == "OnFailure"
    assert leaf.retry_strategy.backoff is not None
    assert leaf.retry_strategy.backoff.factor == 2.0
    pod = workflow.templates["pod"]
    assert pod.metadata.annotations == {"deployer.dev/sim-output": "heads"}


def test_deployer_kind_body_is_kept_as_data(tmp_path: Path) -> None:
    text = minimal().replace(
        "container: {image: busybox}", "helm: {chart: ./charts/db, values: {replicas: 2}}"
    )

    template = load_workflow(write(tmp_path, "wf.yaml", text)).templates["main"]

    assert template.kind == "helm"
    assert template.body == {"chart": "./charts/db", "values": {"replicas": 2}}


def test_resource_template_checks_action(tmp_path: Path) -> None:
    text = minimal().replace(
        "container: {image: busybox}", "resource: {action: replace, manifest: 'kind: X'}"
    )

    with pytest.raises(WorkflowError, match="action 'replace' is not one of apply, create"):
        load_workflow(write(tmp_path, "wf.yaml", text))


SHARED = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: shared}
spec:
  entrypoint: hello
  arguments:
    parameters: [{name: greeting, value: hi}, {name: who, value: world}]
  templates:
  - name: hello
    container: {image: busybox}
"""


def test_workflow_templates_load_from_folders(tmp_path: Path) -> None:
    write(tmp_path, "shared.yaml", SHARED)
    write(tmp_path, "notes.yaml", "kind: ConfigMap\n{{ not yaml }}: [\n")
    other = tmp_path / "more"
    other.mkdir()
    write(other, "more.yml", SHARED.replace("name: shared", "name: more"))

    found = load_workflow_templates([tmp_path, other])

    assert sorted(found) == ["more", "shared"]
    assert found["shared"].templates["hello"].kind == "container"


def test_workflow_template_defined_twice_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", SHARED)
    write(tmp_path, "b.yaml", SHARED)

    with pytest.raises(WorkflowError, match="WorkflowTemplate shared is defined twice"):
        load_workflow_templates([tmp_path])


def test_workflow_template_ref_fills_the_spec(tmp_path: Path) -> None:
    templates_dir = tmp_path / "templates"
    templates_dir.mkdir()
    write(templates_dir, "shared.yaml", SHARED)
    path = write(
        tmp_path,
        "run.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: run-}
        spec:
          arguments:
            parameters: [{name: who, value: deployer}]
          workflowTemplateRef: {name: shared}
        """,
    )

    workflow, templates = load_with_templates(path, templates_dirs=[templates_dir])

    assert workflow.entrypoint == "hello"
    assert sorted(workflow.templates) == ["hello"]
    assert {p.name: p.value for p in workflow.arguments} == {"who": "deployer", "greeting": "hi"}
    assert list(templates) == ["shared"]


def test_missing_workflow_template_ref_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "run.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: r}\n"
        "spec: {workflowTemplateRef: {name: absent}}\n",
    )

    with pytest.raises(WorkflowError, match="WorkflowTemplate absent not found"):
        load_workflow(path)


def test_file_with_two_workflows_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "two.yaml", minimal() + "---\n" + minimal())

    with pytest.raises(WorkflowError, match=r"expected one argoproj\.io/v1alpha1 Workflow"):
        load_workflow(path)


def test_workflow_file_may_carry_its_templates(tmp_path: Path) -> None:
    path = write(tmp_path, "both.yaml", SHARED + "---\n" + minimal())

    workflow, templates = load_with_templates(path)

    assert workflow.kind == "Workflow"
    assert workflow.name == "wf"
    assert list(templates) == ["shared"]


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "kind: Workflow\nspec: [\n  a: b\n")

    with pytest.raises(WorkflowError, match=rf"{path}:\d+: invalid YAML"):
        load_workflow(path)


MERGED_TEMPLATES = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: t1
  templates:
  - &base
    name: t1
    container: &c
      image: alpine
      command: [echo, one]
  - <<: *base
    name: t2
    container:
      <<: *c
      command: [echo, two]
"""


def test_written_key_overrides_merged_key(tmp_path: Path) -> None:
    workflow = load_workflow(write(tmp_path, "wf.yaml", MERGED_TEMPLATES))

    assert list(workflow.templates) == ["t1", "t2"]
    assert workflow.templates["t1"].body["command"] == ["echo", "one"]
    assert workflow.templates["t2"].body["command"] == ["echo", "two"]
    assert workflow.templates["t2"].body["image"] == "alpine"


def test_key_written_twice_beside_merge_is_rejected(tmp_path: Path) -> None:
    text = MERGED_TEMPLATES.replace("    name: t2\n", "    name: t2\n    name: t3\n")

    with pytest.raises(WorkflowError, match=r"wf\.yaml:14: invalid YAML: duplicate key 'name'"):
        load_workflow(write(tmp_path, "wf.yaml", text))


@pytest.mark.parametrize(
    ("template_body", "message"),
    [
        ("    steps: {name: a}\n", "steps must be a list, got a mapping"),
        ("    steps: go\n", "steps must be a list, got a string"),
        ("    inputs: [a]\n    suspend: {}\n", "inputs must be a mapping, got a list"),
        ("    inputs: 3\n    suspend: {}\n", "inputs must be a mapping, got a number"),
        ("    timeout: {s: 1}\n    suspend: {}\n", "timeout must be a string, got a mapping"),
    ],
)
def test_wrong_field_type_is_named_plainly(
    tmp_path: Path, template_body: str, message: str
) -> None:
    text = minimal().replace("    container: {image: busybox}\n", template_body)
    path = write(tmp_path, "wf.yaml", text)

    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)

    assert f"{path}:8: spec.templates[0].{message}" in str(caught.value)
    assert "LineMap" not in str(caught.value)


def test_file_without_workflow_lists_its_kinds(tmp_path: Path) -> None:
    text = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    """
    path = write(tmp_path, "web.yaml", text)

    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: no argoproj.io/v1alpha1 Workflow or WorkflowTemplate ")
    assert "apps/v1 Deployment at line 1, v1 Service at line 5" in message
    assert f"deployer apply -f {path}" in message


def test_empty_file_is_named_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.yaml", "# nothing yet\n")

    with pytest.raises(
        WorkflowError, match="Workflow or WorkflowTemplate document found; the file is empty"
    ):
        load_workflow(path)


@pytest.mark.parametrize("field", ["templateDefaults", "ttlStrategy", "volumeClaimGC"])
def test_unsupported_argo_field_is_not_a_typo(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, "wf.yaml", minimal(spec_extra=f"  {field}: {{}}\n"))

    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)

    message = str(caught.value)
    assert f"{path}:6: not supported: spec.{field}; deployer does not support this Argo" in message
    assert "did you mean" not in message
