"""Template bodies checked by workflow validation, before any step runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deployer.engine.workflow.parse import load_workflow
from deployer.engine.workflow.validate import validate
from deployer.errors import WorkflowError

HEADER = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: checks-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: first}
      - {name: second, template: second, depends: first}
  - name: first
    manifests: {paths: [app]}
"""


def _folder(tmp_path: Path) -> Path:
    """Lay out the local files the templates below may name."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (tmp_path / "chart").mkdir()
    (tmp_path / "values.yaml").write_text("a: 1\n")
    (tmp_path / "main.jsonnet").write_text("{}\n")
    (tmp_path / "lib").mkdir()
    return tmp_path


def _problems(tmp_path: Path, second: str) -> list[str]:
    """Validate HEADER plus the template `second`; return the problem lines, [] if valid."""
    file = _folder(tmp_path) / "wf.yaml"
    file.write_text(HEADER + textwrap.indent(textwrap.dedent(second), "  "))
    try:
        validate(load_workflow(file))
    except WorkflowError as invalid:
        return [line.strip() for line in str(invalid).splitlines()[1:]]
    return []


def test_misspelled_field_names_file_line_and_hint(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "- name: second\n  manifests:\n    path: [app]\n")

    assert problems == [
        f"{tmp_path / 'wf.yaml'}:16: template second: "
        "not supported: manifests.path (did you mean paths?)"
    ]


def test_field_without_close_match_lists_fields(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "- name: second\n  jsonnet: {main: main.jsonnet, wait: yes}\n")

    assert len(problems) == 1
    assert "template second: not supported: jsonnet.wait; a jsonnet template takes" in problems[0]
    assert "extVars, forceConflicts, inventory, libPaths" in problems[0]


def test_container_command_string_is_rejected(tmp_path: Path) -> None:
    second = """\
    - name: second
      container:
        image: busybox
        command: "true"
        args: [--port, 8080]
        env: [{name: N, value: 1}]
        ports: [{containerPort: "80"}]
        tty: "yes"
    """
    problems = _problems(tmp_path, second)

    prefix = f"{tmp_path / 'wf.yaml'}"
    assert problems == [
        f"{prefix}:17: template second: container.command must be a list of strings, "
        "got string 'true'; write command: [\"true\"]",
        f"{prefix}:18: template second: container.args[1] must be a string, got number 8080; "
        "quote it",
        f"{prefix}:19: template second: container.env[0].value must be a string, got number 1; "
        "quote it",
        f"{prefix}:20: template second: container.ports[0].containerPort must be a number, "
        "got string '80'",
        f"{prefix}:21: template second: container.tty must be true or false, got string 'yes'",
    ]


def test_sidecar_fields_are_type_checked(tmp_path: Path) -> None:
    second = """\
    - name: second
      container: {image: busybox}
      sidecars:
      - name: web
        image: nginx
        command: nginx -g daemon off;
    """
    problems = _problems(tmp_path, second)

    assert len(problems) == 1
    assert ":19: template second: sidecars[0].command must be a list of strings" in problems[0]
    assert 'write command: [sh, -c, "nginx -g daemon off;"]' in problems[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("manifests: {paths: [missing]}", "manifests.paths: file or folder not found: "),
        ("manifests: {paths: 'nothing/*.yaml'}", "manifests.paths: no files match "),
        ("manifests: {}", "manifests.paths is missing: a manifests template needs it"),
        ("manifests: {paths: [1]}", "manifests.paths must be a string or a list of strings"),
        ("manifests: {paths: [app], parameters: [a]}", "manifests.parameters must be a mapping"),
        ("manifests: {paths: [app], timeout: soon}", "manifests.timeout: invalid duration"),
        ("manifests: {paths: [app], forceConflicts: maybe}", "forceConflicts must be true or"),
        ("helm: {chart: ./nochart}", "helm.chart: chart './nochart' not found at "),
        ("helm: {chart: chart, valuesFiles: [nope.yaml]}", "helm.valuesFiles: file not found: "),
        ("helm: {chart: chart, values: 'a: 1'}", "helm.values must be a mapping, got string"),
        ("helm: {release: web}", "helm.chart is missing: a helm template needs it"),
        ("helm: {chart: chart, createNamespace: 1}", "helm.createNamespace must be true or false"),
        ("jsonnet: {main: gone.jsonnet}", "jsonnet.main: file not found: "),
        ("jsonnet: {main: main.jsonnet, libPaths: [vendor]}", "jsonnet.libPaths: folder not found"),
        ("jsonnet: {main: main.jsonnet, extVars: [a]}", "jsonnet.extVars must be a mapping"),
        ("fixture: {resources: {kind: X}}", "fixture.resources must be a list of"),
        ("fixture: {resources: [{kind: SC, name: a}]}", "fixture.resources[0].apiVersion is"),
        ("fixture: {resources: [{apiVersion: v1, kind: S, nme: x}]}", "(did you mean name?)"),
        ("fixture: {external: {service: {name: db, adress: [1]}}}", "did you mean addresses?"),
        ("fixture: {external: {service: {name: db, port: 1}}}", "give either addresses"),
        (
            "fixture: {external: {service: {name: db, port: 1, addresses: [127.0.0.1]}}}",
            "address 127.0.0.1 is in the loopback range",
        ),
    ],
)
def test_invalid_spec_is_reported(tmp_path: Path, body: str, message: str) -> None:
    problems = _problems(tmp_path, f"- name: second\n  {body}\n")

    assert len(problems) == 1, problems
    assert ":15: template second: " in problems[0]
    assert message in problems[0]


@pytest.mark.parametrize(
    "body",
    [
        "manifests: {paths: app, namespace: shop, parameters: {a: 1}, timeout: 90, "
        "forceConflicts: 'True'}",
        "manifests: {paths: ['{{workflow.name}}/app'], forceConflicts: '{{workflow.name}}'}",
        "manifests: {paths: ['app/*.yaml'], inventory: shop-app}",
        "helm: {chart: chart, valuesFiles: values.yaml, values: {a: null}, stackValues: 'a: 2', "
        "skipCrds: true, forceConflicts: false, timeout: 5m}",
        "helm: {chart: oci://registry.example/charts/web, version: 1.2.0}",
        "helm: {chart: web, repo: https://charts.example}",
        "helm: {chart: bitnami/nginx}",
        "jsonnet: {main: main.jsonnet, libPaths: [lib], extVars: {a: b}, tlaCode: {c: '1'}}",
        "fixture: {resources: [{apiVersion: v1, kind: Secret, name: s, namespace: n}], "
        "external: {service: {name: db, port: 5432, addresses: [192.0.2.1]}}, timeout: 2m}",
        "fixture: {external: {service: {name: db, port: '{{workflow.name}}', "
        "externalName: db.example}}}",
        "container: {image: busybox, command: [sh, -c, 'true'], env: [{name: A, value: '1'}], "
        "ports: [{containerPort: 80, name: http}], stdin: true, resources: {}}",
        "script: {image: python, command: [python], source: 'print(1)'}",
    ],
)
def test_valid_spec_passes(tmp_path: Path, body: str) -> None:
    assert _problems(tmp_path, f"- name: second\n  {body}\n") == []


def test_paths_are_unchecked_without_a_file(tmp_path: Path) -> None:
    file = _folder(tmp_path) / "wf.yaml"
    file.write_text(HEADER + "  - name: second\n    manifests: {paths: [missing]}\n")
    workflow = load_workflow(file)
    file.unlink()

    validate(workflow)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    second = """\
    - name: second
      helm:
        chart: chart
        valueFiles: [values.yaml]
        timeout: forever
    - name: third
      fixture:
        resource: []
    """
    problems = _problems(tmp_path, second)

    assert len(problems) == 3
    second_misspelled = "not supported: helm.valueFiles (did you mean valuesFiles?)"
    third_misspelled = "not supported: fixture.resource (did you mean resources?)"
    assert f":17: template second: {second_misspelled}" in problems[0]
    assert ":18: template second: helm.timeout: invalid duration 'forever'" in problems[1]
    assert f":21: template third: {third_misspelled}" in problems[2]


def _write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


CONFIG_MAP_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  mode: "{{ mode }}"
  size: "{{ size }}"
"""


@pytest.mark.parametrize(
    ("files", "body", "message"),
    [
        (
            {"tpl/cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: '{{ nope }}'\n"},
            "manifests: {paths: [tpl]}",
            'manifests.paths: {folder}/tpl/cm.yaml:4: undefined parameter "nope"',
        ),
        (
            {"tpl/cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {% if %}\n"},
            "manifests: {paths: [tpl]}",
            "manifests.paths: {folder}/tpl/cm.yaml:3: invalid Jinja2 template",
        ),
        (
            {"tpl/cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: [a\n"},
            "manifests: {paths: [tpl/cm.yaml]}",
            "manifests.paths: {folder}/tpl/cm.yaml:",
        ),
        (
            {"bad.jsonnet": "{\n  a: ,\n}\n"},
            "jsonnet: {main: bad.jsonnet}",
            "jsonnet.main: {folder}/bad.jsonnet:2: Jsonnet syntax error",
        ),
        (
            {"bad.jsonnet": "{ a: std.extVar('mode') + }\n"},
            "jsonnet: {main: bad.jsonnet, extVars: {mode: '{{workflow.name}}'}}",
            "jsonnet.main: {folder}/bad.jsonnet:1: Jsonnet syntax error",
        ),
        (
            {"late.jsonnet": "error 'no ' + std.extVar('mode')\n"},
            "jsonnet: {main: late.jsonnet, extVars: {mode: fast}}",
            "jsonnet.main: {folder}/late.jsonnet:1: Jsonnet evaluation failed: no fast",
        ),
        (
            {"nokind.jsonnet": "{ web: { apiVersion: 'v1', metadata: { name: 'web' } } }\n"},
            "jsonnet: {main: nokind.jsonnet}",
            "jsonnet.main: {folder}/nokind.jsonnet: output at $.web (metadata.name web) has "
            "apiVersion v1 but no kind",
        ),
        (
            {"charts/mychart/Chart.yaml": "name: mychart\n"},
            "helm: {chart: charts/mychrt}",
            "helm.chart: chart 'charts/mychrt' not found at {folder}/charts/mychrt (did you mean "
            "charts/mychart?)",
        ),
        (
            {"bad-values.yaml": "a: [\n"},
            "helm: {chart: chart, valuesFiles: [bad-values.yaml]}",
            "helm.valuesFiles: {folder}/bad-values.yaml:",
        ),
        (
            {"list-values.yaml": "- a\n"},
            "helm: {chart: chart, valuesFiles: [list-values.yaml]}",
            "helm.valuesFiles: {folder}/list-values.yaml:1: a values file must contain one YAML "
            "mapping",
        ),
        (
            {},
            "helm: {chart: chart, release: Web_1}",
            "helm.release: release name 'Web_1' is invalid: helm takes lowercase letters",
        ),
        (
            {},
            "helm: {chart: chart, release: " + "a" * 54 + "}",
            "is 54 characters long; helm allows at most 53",
        ),
    ],
)
def test_bad_file_content_is_reported(
    tmp_path: Path, files: dict[str, str], body: str, message: str
) -> None:
    for name, text in files.items():
        _write(tmp_path, name, text)

    problems = _problems(tmp_path, f"- name: second\n  {body}\n")

    assert len(problems) == 1, problems
    assert ":15: template second: " in problems[0]
    assert message.format(folder=tmp_path) in problems[0]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            '{name: mode, valueFrom: {jsonPath: "{.data.mode", object: ConfigMap/cfg}}',
            "output parameter mode: invalid JSONPath '{.data.mode': the closing '}' is missing",
        ),
        (
            '{name: mode, valueFrom: {jsonPath: "{.data[?(@.a<1)]}", object: ConfigMap/cfg}}',
            "output parameter mode: invalid JSONPath '{.data[?(@.a<1)]}': unsupported selector",
        ),
        (
            '{name: mode, valueFrom: {jsonPath: "{.data.mode}", object: cfg}}',
            "output parameter mode: output object 'cfg' is invalid",
        ),
    ],
)
def test_bad_output_path_is_reported(tmp_path: Path, output: str, message: str) -> None:
    second = f"""\
    - name: second
      manifests: {{paths: [app]}}
      outputs:
        parameters:
        - {output}
    """
    problems = _problems(tmp_path, second)

    assert len(problems) == 1, problems
    assert ":14: template second: " in problems[0]
    assert message in problems[0]


@pytest.mark.parametrize(
    ("files", "body"),
    [
        (
            {"tpl/cm.yaml": CONFIG_MAP_TEMPLATE},
            "manifests: {paths: [tpl], parameters: {mode: fast, size: '{{inputs.parameters.n}}'}}",
        ),
        (
            {"tpl/cm.yaml": "{% if mode is defined %}{{ nope }}{% endif %}\n"},
            "manifests: {paths: [tpl]}",
        ),
        (
            {"tpl/cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {{ mode }}\n"},
            "manifests: {paths: [tpl], parameters: {mode: '{{inputs.parameters.n}}'}}",
        ),
        (
            {"main.jsonnet": "{ a: std.parseInt(std.extVar('n')) + error 'later' }\n"},
            "jsonnet: {main: main.jsonnet, extVars: {n: '{{inputs.parameters.n}}'}}",
        ),
        ({}, "helm: {chart: chart, release: '{{inputs.parameters.n}}'}"),
        ({}, "helm: {chart: chart, release: web.v1-2}"),
        ({"tpl/cm.yaml": "{{ nope }}\n"}, "manifests: {paths: ['{{inputs.parameters.n}}']}"),
    ],
)
def test_content_known_only_at_run_time_passes(
    tmp_path: Path, files: dict[str, str], body: str
) -> None:
    for name, text in files.items():
        _write(tmp_path, name, text)
    inputs = "inputs: {parameters: [{name: n, default: '1'}]}"

    assert _problems(tmp_path, f"- name: second\n  {inputs}\n  {body}\n") == []


def test_workflow_parameters_render_manifests(tmp_path: Path) -> None:
    _folder(tmp_path)
    _write(tmp_path, "tpl/cm.yaml", "{% if mode == 'fast' %}{{ nope }}{% endif %}\n")
    file = tmp_path / "wf.yaml"
    file.write_text(
        HEADER.replace(
            "  entrypoint: main\n",
            "  entrypoint: main\n  arguments:\n    parameters: [{name: mode, value: fast}]\n",
        )
        + "  - name: second\n    manifests: {paths: [tpl]}\n"
    )
    workflow = load_workflow(file)

    with pytest.raises(WorkflowError, match=r'cm\.yaml:1: undefined parameter "nope"'):
        validate(workflow)
    validate(workflow, parameters={"mode": "slow"})
