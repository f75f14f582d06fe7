"""What the dry run of an object with static problems adds to them."""

from __future__ import annotations

from deployer.engine.prepare import added_problems
from deployer.errors import ApiError, ConflictError
from deployer.sources.loader import load_text

SERVICE = load_text(
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n", file="s.yaml"
)[0]
TARGET_PORT = "spec.ports[0].targetPort"


def _invalid(detail: str) -> ApiError:
    return ApiError(f'Service shop/web: Service "web" is invalid: {detail}', status=422)


def test_new_cause_of_several_is_added() -> None:
    error = _invalid(
        '[spec.ports[0].targetPort: Invalid value: "8080": must contain a letter, '
        'spec.ports[0].protocol: Unsupported value: "TCPP": supported values: "SCTP", "TCP"]'
    )
    (problem,) = added_problems(SERVICE, error, [TARGET_PORT])
    assert problem.message == (
        'Service "web" is invalid: spec.ports[0].protocol: Unsupported value: "TCPP": '
        'supported values: "SCTP", "TCP"'
    )


def test_several_new_causes_stay_listed() -> None:
    error = _invalid("[spec.ports[0].name: Required value, spec.ports[1].name: Required value]")
    (problem,) = added_problems(SERVICE, error, [TARGET_PORT])
    assert problem.message.endswith(
        "[spec.ports[0].name: Required value, spec.ports[1].name: Required value]"
    )


def test_known_cause_alone_adds_nothing() -> None:
    error = _invalid('spec.ports[0].targetPort: Invalid value: "8080": must contain a letter')
    assert added_problems(SERVICE, error, [TARGET_PORT]) == []


def test_unconvertible_body_adds_nothing() -> None:
    error = ApiError("Service shop/web: failed to convert", status=500, reason="Invalid")
    assert added_problems(SERVICE, error, [TARGET_PORT]) == []


def test_conflict_is_added() -> None:
    error = ConflictError("Service shop/web: conflict with other", status=409)
    assert len(added_problems(SERVICE, error, [TARGET_PORT])) == 1


def test_known_problem_without_path_hides_nothing() -> None:
    error = _invalid("spec.ports[0].protocol: Unsupported value")
    assert len(added_problems(SERVICE, error, [""])) == 1
