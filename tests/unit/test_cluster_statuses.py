"""API error responses mapped to deployer errors, on plain Status dicts."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from deployer.cluster import statuses
from deployer.cluster.discovery import parse_aggregated, parse_resource_list
from deployer.cluster.retry import Transient, backoff_seconds
from deployer.cluster.transport import Transport
from deployer.errors import ApiError, ConflictError, ImmutableFieldError


def _status(code: int, reason: str, message: str, causes: list[dict[str, str]]) -> str:
    return json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
            "details": {"causes": causes},
        }
    )


def test_conflict_lists_each_path_and_manager() -> None:
    body = _status(
        409,
        "Conflict",
        "Apply failed with 2 conflicts",
        [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-edit" using v1',
                "field": ".data.color",
            },
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "helm"',
                "field": ".data.size",
            },
        ],
    )
    error = statuses.to_error(409, body, subject="ConfigMap ns/c", applying=True)
    assert isinstance(error, ConflictError)
    assert ".data.color is owned by kubectl-edit" in str(error)
    assert ".data.size is owned by helm" in str(error)
    assert "--force-conflicts" in str(error)


def test_conflict_outside_apply_is_plain_api_error() -> None:
    body = _status(409, "AlreadyExists", 'configmaps "c" already exists', [])
    error = statuses.to_error(409, body, subject="ConfigMap ns/c")
    assert type(error) is ApiError
    assert "already exists" in str(error)


def test_immutable_job_template_names_the_path() -> None:
    body = _status(
        422,
        "Invalid",
        'Job.batch "migrate" is invalid: spec.template: Invalid value: ...: field is immutable',
        [
            {
                "reason": "FieldValueInvalid",
                "message": "field is immutable",
                "field": "spec.template",
            }
        ],
    )
    error = statuses.to_error(422, body, subject="Job.batch ns/migrate")
    assert isinstance(error, ImmutableFieldError)
    assert "spec.template" in str(error)
    assert "deployer.dev/recreate" in str(error)


def test_other_422_is_api_error_with_message() -> None:
    body = _status(
        422,
        "Invalid",
        'Service "s" is invalid: spec.ports[0].port: Required value',
        [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.ports[0]"}],
    )
    error = statuses.to_error(422, body, subject="Service ns/s")
    assert type(error) is ApiError
    assert error.status == 422
    assert "Service ns/s: " in str(error)


def test_secret_values_are_masked_in_messages() -> None:
    body = _status(
        422, "Invalid", 'data[token]: Invalid value: "hunter2-secret": must be base64', []
    )
    error = statuses.to_error(422, body, subject="Secret ns/s", secret=True)
    assert "hunter2" not in str(error)
    assert '"***"' in str(error)


def test_long_messages_are_trimmed() -> None:
    body = _status(400, "BadRequest", "x" * 5000, [])
    error = statuses.to_error(400, body, subject="ConfigMap ns/c")
    assert len(str(error)) < statuses.MAX_MESSAGE_CHARS + 100
    assert "truncated" in str(error)


def test_undecodable_body_becomes_message() -> None:
    error = statuses.to_error(400, b"not json at all", subject="ConfigMap ns/c")
    assert "not json at all" in str(error)


def test_namespace_not_found_is_recognised() -> None:
    body = json.dumps(
        {"code": 404, "reason": "NotFound", "details": {"name": "shop", "kind": "namespaces"}}
    )
    assert statuses.is_namespace_not_found(404, body) == "shop"
    assert statuses.is_namespace_not_found(403, body) is None
    other = json.dumps({"code": 404, "details": {"name": "c", "kind": "configmaps"}})
    assert statuses.is_namespace_not_found(404, other) is None


def test_aggregated_discovery_maps_kinds() -> None:
    document = {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {"name": "apps"},
                "versions": [
                    {
                        "version": "v1",
                        "resources": [
                            {
                                "resource": "deployments",
                                "responseKind": {"kind": "Deployment"},
                                "scope": "Namespaced",
                            }
                        ],
                    }
                ],
            },
            {
                "metadata": {},
                "versions": [
                    {
                        "version": "v1",
                        "resources": [
                            {
                                "resource": "namespaces",
                                "responseKind": {"kind": "Namespace"},
                                "scope": "Cluster",
                            }
                        ],
                    }
                ],
            },
        ],
    }
    found = parse_aggregated(document)
    assert found is not None
    deployments = found[("apps/v1", "Deployment")]
    assert deployments.path("shop", "carts") == "/apis/apps/v1/namespaces/shop/deployments/carts"
    namespaces = found[("v1", "Namespace")]
    assert not namespaces.namespaced
    assert namespaces.path("ignored", "shop") == "/api/v1/namespaces/shop"


def test_legacy_discovery_skips_subresources() -> None:
    document = {
        "groupVersion": "batch/v1",
        "resources": [
            {"name": "jobs", "kind": "Job", "namespaced": True},
            {"name": "jobs/status", "kind": "Job", "namespaced": True},
        ],
    }
    found = parse_resource_list(document)
    assert found[("batch/v1", "Job")].plural == "jobs"
    assert len(found) == 1


def test_non_aggregated_document_is_rejected() -> None:
    assert parse_aggregated({"kind": "APIVersions"}) is None


@pytest.mark.parametrize("attempt", [1, 2, 3, 6])
def test_backoff_grows_and_stays_bounded(attempt: int) -> None:
    delay = backoff_seconds(attempt, None)
    assert 0.0 < delay <= 8.0 * 1.25


def test_backoff_honours_retry_after() -> None:
    assert backoff_seconds(1, 3.0) == 3.0
    assert backoff_seconds(1, 3600.0) == 30.0


def test_service_cluster_ip_change_is_immutable() -> None:
    body = _status(
        422,
        "Invalid",
        'Service "s" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.8"]: '
        "may not change once set",
        [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: ["10.96.0.8"]: may not change once set',
                "field": "spec.clusterIPs[0]",
            }
        ],
    )
    error = statuses.to_error(422, body, subject="Service ns/s")
    assert isinstance(error, ImmutableFieldError)
    assert "spec.clusterIPs[0]" in str(error)


CONVERT_MESSAGE = (
    "failed to convert new object (ns/q; /v1, Kind=ResourceQuota) to proper version: "
    "unable to convert unstructured object to /v1, Kind=ResourceQuota: quantities must "
    "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def _api_exception(code: int, message: str) -> ApiException:
    failure = ApiException(status=code, reason="Internal Server Error")
    failure.body = _status(code, "InternalError", message, [])
    return failure


def test_unconvertible_body_500_is_not_retried() -> None:
    transport = Transport(api_client=None)
    failure = _api_exception(500, CONVERT_MESSAGE)
    error = transport.classify(failure, subject="ResourceQuota ns/q", secret=False, applying=True)
    assert isinstance(error, ApiError)
    assert error.reason == "Invalid"
    assert "quantities must match" in str(error)


def test_typed_patch_500_is_not_retried() -> None:
    transport = Transport(api_client=None)
    message = (
        "failed to create typed patch object (ns/c; /v1, Kind=ConfigMap): "
        ".data.RETRIES: expected string, got &value.valueUnstructured{Value:3}"
    )
    failure = _api_exception(500, message)
    error = transport.classify(failure, subject="ConfigMap ns/c", secret=False, applying=True)
    assert isinstance(error, ApiError)
    assert "data.RETRIES" in str(error)


def test_other_500_is_retried() -> None:
    transport = Transport(api_client=None)
    failure = _api_exception(500, "etcdserver: request timed out")
    error = transport.classify(failure, subject="ConfigMap ns/c", secret=False, applying=True)
    assert isinstance(error, Transient)
