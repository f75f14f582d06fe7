"""The JSONPath subset and the object selectors that output parameters use."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.engine.templates import jsonpath
from deployer.engine.templates.outputs import is_secret, parse_selector
from deployer.errors import WorkflowError
from deployer.model.objects import Manifest

SERVICE: dict[str, Any] = {
    "metadata": {
        "name": "zipkin",
        "annotations": {"deployer.dev/wave": "2"},
        "labels": {"app.kubernetes.io/name": "zipkin"},
    },
    "spec": {
        "clusterIP": "10.0.0.12",
        "ports": [{"name": "http", "port": 9411}, {"name": "admin", "port": 9901}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{.spec.clusterIP}", "10.0.0.12"),
        (".spec.clusterIP", "10.0.0.12"),
        ("{$.spec.clusterIP}", "10.0.0.12"),
        ("{.spec.ports[0].port}", "9411"),
        ("{.spec.ports[-1].name}", "admin"),
        ("{.spec.ports[*].port}", "9411 9901"),
        ('{.spec.ports[?(@.name=="admin")].port}', "9901"),
        ("{.spec.ports[?(@.port==9411)].name}", "http"),
        ('{.status.conditions[?(@.type!="Ready")].status}', ""),
        (r"{.metadata.annotations.deployer\.dev/wave}", "2"),
        ("{.metadata.labels['app.kubernetes.io/name']}", "zipkin"),
        ("{.spec.ports[1]}", '{"name": "admin", "port": 9901}'),
        ("{.spec.missing}", ""),
    ],
)
def test_jsonpath_selects_like_kubectl(expression: str, expected: str) -> None:
    assert jsonpath.format_values(jsonpath.find(SERVICE, expression)) == expected


@pytest.mark.parametrize("expression", ["{spec}", "{.spec.ports[0}", "{.spec[?(@.a<1)]}"])
def test_jsonpath_rejects_invalid_expression(expression: str) -> None:
    with pytest.raises(jsonpath.JsonPathError, match="invalid JSONPath"):
        jsonpath.find(SERVICE, expression)


def test_selector_kind_and_name() -> None:
    selector = parse_selector("Service/zipkin")
    assert selector.kind == "Service"
    assert selector.group is None
    assert selector.namespace is None
    assert selector.name == "zipkin"


def test_selector_with_group_and_namespace() -> None:
    selector = parse_selector("Deployment.apps/monitoring/grafana")
    assert selector.kind == "Deployment"
    assert selector.group == "apps"
    assert selector.namespace == "monitoring"
    assert selector.name == "grafana"


@pytest.mark.parametrize("text", ["Service", "Service/", "a/b/c/d", "/name"])
def test_selector_rejects_bad_reference(text: str) -> None:
    with pytest.raises(WorkflowError, match="Kind/name"):
        parse_selector(text)


@pytest.mark.parametrize("expression", ["{.data.mode", ".data.mode}"])
def test_jsonpath_names_missing_brace(expression: str) -> None:
    with pytest.raises(jsonpath.JsonPathError, match="is missing"):
        jsonpath.check(expression)


def test_jsonpath_field_names() -> None:
    assert jsonpath.field_names("{.data.token}") == ["data", "token"]
    assert jsonpath.field_names("{.spec.ports[0].port}") == ["spec", "ports", None, "port"]
    assert jsonpath.field_names("{.data['db-password']}") == ["data", "db-password"]


SECRET = Manifest(body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}})
CONFIG_MAP = Manifest(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db"}})


@pytest.mark.parametrize(
    ("name", "manifest", "path", "secret"),
    [
        ("tok", SECRET, "{.data.token}", True),
        ("data", SECRET, "{.data}", True),
        ("last", SECRET, "{.metadata.annotations.last-applied}", True),
        ("name", SECRET, "{.metadata.name}", False),
        ("type", SECRET, "{.type}", False),
        ("pw", CONFIG_MAP, "{.data.password}", True),
        ("key", CONFIG_MAP, "{.data['api-key']}", True),
        ("db_password", CONFIG_MAP, "{.data.value}", True),
        ("mode", CONFIG_MAP, "{.data.mode}", False),
    ],
)
def test_output_secret_rule(name: str, manifest: Manifest, path: str, secret: bool) -> None:
    assert is_secret(name, manifest, path) is secret
