"""Static checks: classic manifest mistakes found offline, with the field path and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.errors import Problem
from deployer.model.objects import Manifest, Source
from deployer.plan import static_problems
from deployer.sources import load_text


def problems_in(text: str) -> list[Problem]:
    return static_problems(load_text(text, file="a.yaml"))


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_unquoted_on_in_configmap_data_is_flagged() -> None:
    problem = only(
        problems_in(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: ns}\n"
            "data:\n  FEATURE: on\n  NAME: ok\n"
        )
    )

    assert problem.object == "ConfigMap ns/flags (a.yaml:1)"
    assert problem.path == "data.FEATURE"
    assert problem.message == 'must be a string, got boolean true; quote it: "on"'


def test_number_in_configmap_data_keeps_its_written_form() -> None:
    problem = only(
        problems_in("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  MODE: 0644\n")
    )

    assert problem.message == 'must be a string, got number 420; quote it: "0644"'


def test_null_data_value_suggests_an_empty_string() -> None:
    problem = only(
        problems_in("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  EMPTY:\n")
    )

    assert problem.path == "data.EMPTY"
    assert 'write an empty string ("")' in problem.message


def test_secret_value_never_appears_in_the_message() -> None:
    problem = only(
        problems_in(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  PIN: 918273\n"
        )
    )

    assert problem.path == "stringData.PIN"
    assert "918273" not in problem.message
    assert problem.message == "must be a string, got a number; put the value in quotes"


def test_secret_data_that_is_not_base64_is_flagged() -> None:
    problem = only(
        problems_in(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n"
            "  good: cGFzc3dvcmQ=\n  bad: hunter2 pass!\n"
        )
    )

    assert problem.path == "data.bad"
    assert "not valid base64" in problem.message
    assert "stringData" in problem.message
    assert "hunter2" not in problem.message


def test_invalid_data_key_is_flagged() -> None:
    problem = only(
        problems_in("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  my key: x\n")
    )

    assert problem.path == "data.my key"
    assert problem.message.startswith("invalid key")


def test_digits_only_target_port_is_flagged() -> None:
    problem = only(
        problems_in(
            "apiVersion: v1\nkind: Service\nmetadata: {name: redis}\nspec:\n  ports:\n"
            '    - port: 6379\n      targetPort: "6379"\n'
        )
    )

    assert problem.path == "spec.ports[0].targetPort"
    assert problem.message == (
        '"6379" is a digits-only string, which Kubernetes takes as a port NAME; '
        "write it as a number (6379) or use a named container port"
    )


@pytest.mark.parametrize("target", ["6379", "redis"])
def test_numeric_or_named_target_port_passes(target: str) -> None:
    value = target if target.isdigit() else f'"{target}"'
    text = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: redis}\nspec:\n  ports:\n"
        f"    - port: 6379\n      targetPort: {value}\n"
    )

    assert problems_in(text) == []


def test_quoted_service_port_is_flagged() -> None:
    problem = only(
        problems_in(
            'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: "80"}]\n'
        )
    )

    assert problem.path == "spec.ports[0].port"
    assert "remove the quotes" in problem.message


def test_float_label_value_is_flagged() -> None:
    problem = only(
        problems_in(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    version: 1.10\n"
        )
    )

    assert problem.path == "metadata.labels.version"
    assert problem.message == 'must be a string, got number 1.1; quote it: "1.10"'


def test_invalid_label_value_is_flagged() -> None:
    problem = only(
        problems_in(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    team: a b\n"
        )
    )

    assert problem.path == "metadata.labels.team"
    assert "invalid label value" in problem.message


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: ns}}
spec:
  selector:
    matchLabels: {{app: {selector}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: main
          image: nginx
          ports: [{{containerPort: {port}}}]
          env:
            - name: DEBUG
              value: {debug}
"""


def test_correct_deployment_has_no_problems() -> None:
    assert problems_in(DEPLOYMENT.format(selector="web", port=80, debug='"yes"')) == []


def test_selector_not_matching_template_labels_is_flagged() -> None:
    problem = only(problems_in(DEPLOYMENT.format(selector="api", port=80, debug='"1"')))

    assert problem.path == "spec.selector.matchLabels"
    assert problem.message.startswith("app=api is not among spec.template.metadata.labels")


def test_quoted_container_port_is_flagged() -> None:
    problem = only(problems_in(DEPLOYMENT.format(selector="web", port='"80"', debug='"1"')))

    assert problem.path == "spec.template.spec.containers[0].ports[0].containerPort"


def test_boolean_env_value_is_flagged() -> None:
    problem = only(problems_in(DEPLOYMENT.format(selector="web", port=80, debug="yes")))

    assert problem.path == "spec.template.spec.containers[0].env[0].value"
    assert problem.message.startswith("must be a string, got boolean true")


def manifest(body: dict[str, Any]) -> Manifest:
    return Manifest(body=body, source=Source("b.yaml", 2))


def test_missing_name_is_flagged() -> None:
    problem = only(static_problems([manifest({"apiVersion": "v1", "kind": "ConfigMap"})]))

    assert problem.path == "metadata"
    assert "metadata.name" in problem.message


def test_generate_name_counts_as_a_name() -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "run-"}}

    assert static_problems([manifest(body)]) == []


@pytest.mark.parametrize(
    ("kind", "api_version", "name"),
    [
        ("Service", "v1", "web.api"),
        ("Namespace", "v1", "Shop"),
        ("ConfigMap", "v1", "my_settings"),
        ("CronJob", "batch/v1", "n" * 53),
    ],
)
def test_invalid_names_are_flagged(kind: str, api_version: str, name: str) -> None:
    body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}

    problem = only(static_problems([manifest(body)]))

    assert problem.path == "metadata.name"
    assert f"is not a valid {kind} name" in problem.message


def test_rbac_names_with_colons_pass() -> None:
    body = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:reader"},
    }

    assert static_problems([manifest(body)]) == []


def test_custom_resource_data_is_not_checked() -> None:
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "data": {"count": 3},
    }

    assert static_problems([manifest(body)]) == []


POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers:
    - name: main
      image: nginx
      resources:
        requests: {{cpu: {cpu}, memory: {memory}}}
      readinessProbe:
        httpGet: {{path: /, port: {port}}}
"""


def test_correct_pod_has_no_problems() -> None:
    assert problems_in(POD.format(cpu="0.5", memory="512Mi", port=8080)) == []


@pytest.mark.parametrize("memory", ["1GB", "512mb", "lots"])
def test_invalid_memory_quantity_is_flagged(memory: str) -> None:
    problem = only(problems_in(POD.format(cpu="500m", memory=memory, port="http")))

    assert problem.path == "spec.containers[0].resources.requests.memory"
    assert problem.message.startswith(f"'{memory}' is not a valid quantity")


def test_digits_only_probe_port_is_flagged() -> None:
    problem = only(problems_in(POD.format(cpu="1", memory="1Gi", port='"8080"')))

    assert problem.path == "spec.containers[0].readinessProbe.httpGet.port"
    assert "takes as a port NAME" in problem.message
