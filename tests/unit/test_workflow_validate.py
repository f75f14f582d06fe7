"""Static checks of parsed workflows before they run."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from deployer.engine.workflow.arguments import check_run_name, make_run_name
from deployer.engine.workflow.parse import parse_workflow
from deployer.engine.workflow.validate import validate
from deployer.errors import WorkflowError
from deployer.model.workflow import Workflow


def workflow_from(text: str, *, file: str = "wf.yaml") -> Workflow:
    doc: Mapping[str, Any] = yaml.safe_load(textwrap.dedent(text))
    return parse_workflow(doc, file=file)


def problems(text: str, **kwargs: Any) -> str:
    with pytest.raises(WorkflowError) as caught:
        validate(workflow_from(text), **kwargs)
    return str(caught.value)


HEADER = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: wf-, labels: {team: a}}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: env, value: dev, enum: [dev, prod]}
    - {name: list, value: '["a"]'}
  templates:
  - name: echo
    inputs:
      parameters:
      - {name: text}
      - {name: level, default: info, enum: [info, debug]}
    outputs:
      parameters:
      - {name: out, valueFrom: {path: /tmp/out}}
    container: {image: busybox, args: ["{{inputs.parameters.text}}"]}
  - name: note
    container: {image: busybox}
"""


def with_main(main: str) -> str:
    return HEADER + textwrap.indent(textwrap.dedent(main), "  ")


VALID = with_main(
    """\
    - name: main
      steps:
      - - name: first
          template: echo
          arguments: {parameters: [{name: text, value: "{{workflow.parameters.env}}"}]}
      - - name: each
          template: echo
          withParam: "{{workflow.parameters.list}}"
          when: "{{steps.first.outputs.result}} == ok"
          arguments:
            parameters:
            - {name: text, value: "{{item}} {{steps.first.outputs.parameters.out}}"}
            - {name: level, value: debug}
        - name: again
          template: main
          when: "{{=asInt(steps.first.outputs.result) > 3}}"
    - name: diamond
      retryStrategy: {limit: 2}
      dag:
        tasks:
        - {name: A, template: echo, arguments: {parameters: [{name: text, value: "{{retries}}"}]}}
        - name: B
          template: echo
          depends: A
          arguments: {parameters: [{name: text, value: "{{tasks.A.outputs.result}}"}]}
        - name: C
          template: echo
          dependencies: [A]
          arguments: {parameters: [{name: text, value: "{{workflow.namespace}}"}]}
        - name: D
          template: echo
          depends: "B.Succeeded && (C.Failed || C.Skipped)"
          arguments:
            parameters:
            - name: text
              value: "{{tasks.A.outputs.parameters.out}} {{workflow.name}}"
      outputs:
        parameters:
        - {name: final, valueFrom: {parameter: "{{tasks.D.outputs.parameters.out}}"}}
    """
)


def test_valid_workflow_passes() -> None:
    validate(workflow_from(VALID))


def test_recursion_is_allowed() -> None:
    workflow = workflow_from(VALID)

    assert workflow.templates["main"].steps[1][1].template == "main"
    validate(workflow)


def test_unknown_template_is_named() -> None:
    text = with_main(
        """\
        - name: main
          steps: [[{name: call, template: ecko}]]
        """
    )

    message = problems(text)

    assert (
        "template main step call: template ecko not found (templates: echo, main, note)" in message
    )


def test_unknown_entrypoint_and_on_exit_are_named() -> None:
    text = with_main("- name: other\n  suspend: {}\n").replace(
        "entrypoint: main", "entrypoint: main\n  onExit: cleanup"
    )

    message = problems(text)

    assert "entrypoint template main not found" in message
    assert "onExit template cleanup not found" in message


def test_unknown_template_ref_is_named() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - {name: a, templateRef: {name: lib, template: hello}}
            - {name: b, templateRef: {name: other, template: x}}
        """
    )
    library = workflow_from(
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: lib}
        spec:
          templates:
          - {name: greet, container: {image: busybox}}
        """,
        file="lib.yaml",
    )

    message = problems(text, templates={"lib": library})

    assert (
        "step a: templateRef: WorkflowTemplate lib has no template hello (templates: greet)"
        in message
    )
    assert "step b: templateRef: WorkflowTemplate other not found (known: lib)" in message


def test_template_ref_callee_is_validated() -> None:
    text = with_main(
        """\
        - name: main
          steps: [[{name: a, templateRef: {name: lib, template: greet}}]]
        """
    )
    library = workflow_from(
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: lib}
        spec:
          templates:
          - name: greet
            container: {image: busybox, args: ["{{inputs.parameters.who}}"]}
        """,
        file="lib.yaml",
    )

    message = problems(text, templates={"lib": library})

    assert "lib.yaml" in message
    assert "template greet: undefined variable {{inputs.parameters.who}}" in message


def test_dag_cycle_is_printed() -> None:
    text = with_main(
        """\
        - name: main
          dag:
            tasks:
            - {name: build, template: note, depends: test}
            - {name: test, template: note, dependencies: [ship]}
            - {name: ship, template: note, depends: build.Succeeded}
        """
    )

    message = problems(text)

    assert "template main: dependency cycle: build -> ship -> test -> build" in message


def test_self_dependency_is_a_cycle() -> None:
    text = with_main(
        """\
        - name: main
          dag:
            tasks:
            - {name: loop, template: note, depends: loop}
        """
    )

    assert "dependency cycle: loop -> loop" in problems(text)


@pytest.mark.parametrize(
    ("depends", "message"),
    [
        ("A && nope", "task B: depends on unknown task nope (tasks: A, B)"),
        ("A.Done", "unknown result A.Done"),
        ("A &&", "invalid depends expression 'A &&'"),
    ],
)
def test_bad_depends_is_reported(depends: str, message: str) -> None:
    text = with_main(
        f"""\
        - name: main
          dag:
            tasks:
            - {{name: A, template: note}}
            - {{name: B, template: note, depends: "{depends}"}}
        """
    )

    assert message in problems(text)


def test_missing_argument_is_named() -> None:
    text = with_main(
        """\
        - name: main
          steps: [[{name: call, template: echo}]]
        """
    )

    message = problems(text)

    assert "template main step call: missing argument text for template echo" in message


def test_unknown_argument_is_named() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - name: call
              template: echo
              arguments: {parameters: [{name: text, value: x}, {name: txet, value: y}]}
        """
    )

    assert "template echo has no input txet (inputs: text, level)" in problems(text)


def test_entrypoint_inputs_come_from_workflow_arguments() -> None:
    text = HEADER.replace("entrypoint: main", "entrypoint: echo")

    message = problems(text)

    assert "missing argument text: the entrypoint template needs it" in message
    validate(
        workflow_from(text.replace("- {name: env,", "- {name: text, value: hi}\n    - {name: env,"))
    )


def test_enum_violation_of_argument_is_named() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - name: call
              template: echo
              arguments: {parameters: [{name: text, value: x}, {name: level, value: trace}]}
        """
    )

    assert "parameter level value 'trace' is not one of its enum: info, debug" in problems(text)


def test_enum_violation_of_supplied_parameter_is_named() -> None:
    message = problems(VALID, parameters={"env": "staging"})

    assert "parameter env value 'staging' is not one of its enum: dev, prod" in message


def test_unknown_supplied_parameter_is_named() -> None:
    message = problems(VALID, parameters={"colour": "red"})

    assert "unknown parameter colour (parameters: env, list)" in message


def test_workflow_parameter_without_value_needs_one() -> None:
    text = VALID.replace("{name: list, value: '[\"a\"]'}", "{name: list}")

    assert "workflow parameter list has no value; pass -p list=VALUE" in problems(text)
    validate(workflow_from(text), parameters={"list": "[]"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{inputs.parameters.nope}}", "undefined variable {{inputs.parameters.nope}}"),
        (
            "{{workflow.parameters.x}}",
            "undefined variable {{workflow.parameters.x}}; workflow parameters: env, list",
        ),
        ("{{steps.missing.outputs.result}}", "no step missing runs before this point"),
        ("{{steps.later.outputs.result}}", "step later runs in a later group"),
        ("{{steps.sibling.outputs.result}}", "step sibling runs in parallel in the same group"),
        ("{{steps.first.outputs.parameters.nope}}", "template echo declares no output nope"),
        ("{{steps.first.outputs.bogus}}", "undefined variable {{steps.first.outputs.bogus}}"),
        ("{{tasks.first.outputs.result}}", "use {{steps.NAME...}} in a steps template"),
        ("{{item}}", "only a withItems/withParam/withSequence call has an item"),
        ("{{retries}}", "the template has no retryStrategy"),
        ("{{workflow.labels.owner}}", "not supported"),
        ("{{workflow.status}}", "defined only in templates that an onExit handler runs"),
        ("{{pod.name}}", "only container and script templates run a pod"),
        ("{{workflow.outputs.parameters.g}}", "not supported"),
        (
            "{{workflow.parameters.json}}",
            "not supported: {{workflow.parameters.json}}; deployer does not define this Argo "
            "variable yet",
        ),
        ("{{inputs.artifacts.a}}", "not supported"),
        ("{{=asInt(inputs.parameters.nope)}}", "undefined variable {{inputs.parameters.nope}}"),
        ("{{=1 +}}", "invalid expression"),
        ("{{=sprig.upper('x')}}", "not supported: sprig functions (sprig.upper)"),
        ("{{=lenght('x')}}", "unknown function lenght; supported:"),
        ("{{bogus}}", "undefined variable {{bogus}}"),
    ],
)
def test_undefined_variable_is_named(value: str, message: str) -> None:
    text = with_main(
        f"""\
        - name: main
          steps:
          - - {{name: first, template: echo, arguments: {{parameters: [{{name: text, value: x}}]}}}}
          - - name: use
              template: echo
              arguments: {{parameters: [{{name: text, value: "{value}"}}]}}
            - {{name: sibling, template: note}}
          - - {{name: later, template: note}}
        """
    )

    found = problems(text)

    assert "template main step use" in found
    assert message in found


def test_task_may_read_only_its_dependencies() -> None:
    text = with_main(
        """\
        - name: main
          dag:
            tasks:
            - {name: A, template: note}
            - name: B
              template: echo
              arguments: {parameters: [{name: text, value: "{{tasks.A.outputs.result}}"}]}
        """
    )

    assert "task A is not a dependency of task B; add it to depends" in problems(text)


def test_undefined_variable_in_template_body_is_named() -> None:
    text = HEADER.replace("{{inputs.parameters.text}}", "{{inputs.parameters.txt}}") + (
        "  - name: main\n    steps: [[{name: a, template: echo, "
        "arguments: {parameters: [{name: text, value: x}]}}]]\n"
    )

    message = problems(text)

    assert (
        "template echo: undefined variable {{inputs.parameters.txt}}; inputs of the template"
        in message
    )
    assert "wf.yaml:" in message


def test_bad_when_is_reported_with_the_step() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - name: a
              template: echo
              when: "x == "
              arguments: {parameters: [{name: text, value: x}]}
        """
    )

    assert "template main step a: invalid when expression 'x == '" in problems(text)


def test_all_problems_are_reported_together() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - {name: a, template: nope}
            - {name: b, template: echo}
        """
    )

    message = problems(text)

    assert "has 2 problem(s)" in message
    assert "template nope not found" in message
    assert "missing argument text" in message


def test_result_of_a_steps_template_is_undefined() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - {name: inner, template: leaf}
          - - name: use
              template: echo
              arguments: {parameters: [{name: text, value: "{{steps.inner.outputs.result}}"}]}
        - name: leaf
          steps: [[]]
        """
    )

    assert "a steps template has no outputs.result" in problems(text)


def test_exit_handler_sees_workflow_status() -> None:
    text = with_main(
        """\
        - name: main
          steps: [[{name: a, template: note, onExit: report}]]
        - name: report
          steps:
          - - name: tell
              template: echo
              arguments:
                parameters: [{name: text, value: "{{workflow.status}} {{workflow.failures}}"}]
        - name: final
          container: {image: busybox, args: ["{{workflow.status}}", "{{pod.name}}"]}
        """
    ).replace("entrypoint: main", "entrypoint: main\n  onExit: final")

    validate(workflow_from(text))


@pytest.mark.parametrize(
    ("loop", "value", "message"),
    [
        (
            "withItems: [{os: linux, arch: amd}, {os: mac}]",
            "{{item.arch}}",
            "loop item 1 has no key arch (its keys: os)",
        ),
        (
            "withItems: [{os: debian}, {oss: ubuntu}]",
            "{{item.os}}",
            "undefined variable {{item.os}}: loop item 1 has no key os (its keys: oss)",
        ),
        (
            "withItems: [{os: debian}, plain, {}]",
            "{{item.os}}",
            "loop item 1 is not a mapping; loop item 2 has no key os (its keys: none)",
        ),
        (
            "withItems: [{os: a}, {}, {}, {}, {}]",
            "{{item.os}}",
            "loop item 3 has no key os (its keys: none); and 1 more",
        ),
        ("withItems: [a, b]", "{{item.os}}", "the loop items are not mappings"),
        ("withSequence: {count: 2}", "{{item.os}}", "the loop items are not mappings"),
    ],
)
def test_item_key_missing_from_items(loop: str, value: str, message: str) -> None:
    text = with_main(
        f"""\
        - name: main
          steps:
          - - name: each
              template: echo
              {loop}
              arguments: {{parameters: [{{name: text, value: "{value}"}}]}}
        """
    )

    assert message in problems(text)


def test_item_keys_of_every_item_pass() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - name: each
              template: echo
              withItems: [{os: linux, arch: amd}, {os: mac, arch: arm}]
              arguments: {parameters: [{name: text, value: "{{item.os}}-{{item.arch}}"}]}
          - - name: param
              template: echo
              withParam: "{{workflow.parameters.list}}"
              arguments: {parameters: [{name: text, value: "{{item.anything}}"}]}
        """
    )

    validate(workflow_from(text))


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ("timeout: soon", "timeout"),
        ("retryStrategy: {backoff: {duration: 5 minutes}}", "retryStrategy.backoff.duration"),
        (
            "retryStrategy: {backoff: {duration: 1s, maxDuration: 1d}}",
            "retryStrategy.backoff.maxDuration",
        ),
    ],
)
def test_invalid_duration_is_named(fields: str, name: str) -> None:
    text = HEADER.replace("  - name: note\n", f"  - name: note\n    {fields}\n") + (
        "  - name: main\n    steps: [[{name: a, template: note}]]\n"
    )

    message = problems(text)

    assert f"template note: {name}" in message
    assert "invalid duration" in message


def test_suspend_duration_is_checked() -> None:
    text = with_main("- name: main\n  suspend: {duration: tomorrow}\n")

    assert "suspend.duration: invalid duration 'tomorrow'" in problems(text)
    validate(workflow_from(with_main("- name: main\n  suspend: {duration: 1m30s}\n")))


OUTPUTS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: outs}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: a, template: leaf}]]
    outputs:
      parameters:
      - name: out
        valueFrom: SOURCE
  - name: leaf
    container: {image: busybox}
  - name: zipkin
    helm: {chart: ./zipkin}
    outputs:
      parameters:
      - name: address
        valueFrom: {jsonPath: "{.spec.clusterIP}", object: Service/zipkin}
"""


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{path: /tmp/out}", "valueFrom.path works only in container, script templates, not steps"),
        ("{jsonPath: '{.a}'}", "valueFrom.jsonPath works only in resource templates, not steps"),
        ("{object: Service/x}", "valueFrom.object works only in fixture, helm, jsonnet, manifests"),
    ],
)
def test_output_source_must_fit_the_kind(source: str, message: str) -> None:
    assert message in problems(OUTPUTS.replace("SOURCE", source))


def test_output_sources_that_fit_pass() -> None:
    workflow = workflow_from(OUTPUTS.replace("SOURCE", "{parameter: '{{steps.a.outputs.result}}'}"))

    validate(workflow)
    address = workflow.templates["zipkin"].output("address")
    assert address is not None
    assert address.value_from is not None
    assert address.value_from.object == "Service/zipkin"


def test_output_without_a_source_is_named() -> None:
    text = OUTPUTS.replace("        valueFrom: SOURCE\n", "")

    assert "template main output out: set valueFrom or value" in problems(text)


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ("{limit: '{{inputs.parameters.text}}'}", "retryStrategy.limit: undefined variable"),
        ("{expression: 'lastRetry.exitCode =='}", "invalid expression"),
        ("{expression: 'asInt(lastRetry.code) > 1'}", "undefined variable {{lastRetry.code}}"),
        ("{backoff: {duration: '{{workflow.parameters.env}}'}}", "not supported: a placeholder"),
    ],
)
def test_bad_retry_strategy_is_named(strategy: str, message: str) -> None:
    text = HEADER.replace("  - name: note\n", f"  - name: note\n    retryStrategy: {strategy}\n")
    text += "  - name: main\n    steps: [[{name: a, template: note}]]\n"

    assert message in problems(text)


def test_retry_strategy_reading_last_retry_passes() -> None:
    strategy = (
        "{limit: '{{workflow.parameters.env}}', "
        "expression: \"asInt(lastRetry.exitCode) == 2 && lastRetry.status == 'Failed'\"}"
    )
    text = HEADER.replace("  - name: note\n", f"  - name: note\n    retryStrategy: {strategy}\n")
    text += "  - name: main\n    steps: [[{name: a, template: note}]]\n"

    validate(workflow_from(text))


def test_workflow_deadline_placeholder_is_rejected() -> None:
    text = VALID.replace("entrypoint: main", "entrypoint: main\n  activeDeadlineSeconds: '{{x}}'")

    assert "not supported: a placeholder in spec.activeDeadlineSeconds" in problems(text)


def test_result_of_a_resource_template_is_undefined() -> None:
    text = with_main(
        """\
        - name: main
          steps:
          - - {name: make, template: make}
          - - name: use
              template: echo
              arguments: {parameters: [{name: text, value: "{{steps.make.outputs.result}}"}]}
        - name: make
          resource: {action: create, manifest: "kind: ConfigMap"}
        """
    )

    assert "a resource template has no outputs.result" in problems(text)


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        ("withParam: '{\"a\": 1}'", "withParam must be a JSON list, got a mapping"),
        ("withParam: 'not json'", "withParam must be a JSON list"),
        ("withSequence: {count: lots}", "withSequence.count must be an integer"),
        ("withSequence: {count: 2, format: '%s-%s'}", "not a printf format"),
    ],
)
def test_literal_loop_is_expanded_statically(loop: str, message: str) -> None:
    text = with_main(
        f"""\
        - name: main
          steps:
          - - name: each
              template: note
              {loop}
        """
    )

    found = problems(text)

    assert "template main step each: with" in found
    assert message in found


def test_input_default_outside_enum_is_named() -> None:
    text = VALID.replace(
        "{name: level, default: info, enum: [info, debug]}",
        "{name: level, default: warn, enum: [info, debug]}",
    )

    assert "template echo: parameter level value 'warn' is not one of its enum" in problems(text)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{name: Bad_Name}", "metadata.name 'Bad_Name' is not a valid run name"),
        ("{name: ends-with-dash-}", "is not a valid run name"),
        ("{name: " + "a" * 64 + "}", "is 64 characters long; a run name has at most 63"),
        ("{generateName: Upper-}", "metadata.generateName 'Upper-' leaves no valid run name"),
        ("{generateName: " + "g" * 59 + "}", "is 64 characters long"),
    ],
)
def test_invalid_run_name_is_named(metadata: str, message: str) -> None:
    text = VALID.replace(
        "metadata: {generateName: wf-, labels: {team: a}}", f"metadata: {metadata}"
    )

    reported = problems(text)

    assert message in reported
    assert "wf.yaml" in reported


@pytest.mark.parametrize(
    "metadata",
    ["{name: ok.name-2}", "{name: " + "a" * 63 + "}", "{generateName: " + "g" * 58 + "}"],
)
def test_valid_run_names_pass(metadata: str) -> None:
    text = VALID.replace(
        "metadata: {generateName: wf-, labels: {team: a}}", f"metadata: {metadata}"
    )

    validate(workflow_from(text))


def test_workflow_template_run_gets_a_generated_name() -> None:
    template = workflow_from(
        VALID.replace("kind: Workflow", "kind: WorkflowTemplate").replace(
            "metadata: {generateName: wf-, labels: {team: a}}", "metadata: {name: shared}"
        )
    )

    first, second = make_run_name(template), make_run_name(template)

    assert re.fullmatch(r"shared-[a-z0-9]{5}", first)
    assert first != second


def test_run_name_check_follows_kubernetes() -> None:
    for name in ("Bad_Name", "a" * 64, "-x", "x.", ""):
        with pytest.raises(WorkflowError, match="run name"):
            check_run_name(name)
    check_run_name("a" * 63)
    check_run_name("hello-world-x7k2p")
