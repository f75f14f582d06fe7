"""Argo-style success and failure conditions: parsing, matching and syntax errors."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.errors import InputError
from deployer.readiness.conditions import Operator, lookup, parse_condition, value_text

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "labels": {"app": "web", "app.kubernetes.io/name": "shop"},
        "annotations": {"note": ""},
    },
    "spec": {"restartPolicy": "Never"},
    "status": {
        "phase": "Succeeded",
        "succeeded": 2,
        "ratio": 0.5,
        "ready": True,
        "empty": None,
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "PodScheduled", "status": "True", "reason": "Scheduled"},
        ],
        "containerStatuses": [{"name": "main", "restartCount": 3}],
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status.phase == Succeeded", True),
        ("status.phase = Succeeded", True),
        ("status.phase == Running", False),
        ("status.phase != Running", True),
        ("status.phase != Succeeded", False),
        ("status.missing != Running", True),
        ("status.missing == Running", False),
        ("status.phase in (Failed, Succeeded)", True),
        ("status.phase in (Failed, Error)", False),
        ("status.phase notin (Failed, Error)", True),
        ("status.phase notin (Succeeded)", False),
        ("status.missing notin (Succeeded)", True),
        ("status.missing in (Succeeded)", False),
        ("status.succeeded > 0", True),
        ("status.succeeded > 2", False),
        ("status.succeeded < 3", True),
        ("status.succeeded >= 2", True),
        ("status.succeeded <= 1", False),
        ("status.ratio < 1", True),
        ("status.ratio > 0.25", True),
        ("status.missing > 0", False),
        ("status.missing < 1", False),
        ("status.phase > 0", False),
        ("status.succeeded == 2.0", True),
        ("status.succeeded == 02", True),
        ("status.ready == true", True),
        ("status.ready == True", False),
        ("status.empty", True),
        ("status.empty == ", True),
        ("metadata.annotations.note ==", True),
        ("metadata.labels.app", True),
        ("metadata.labels.team", False),
        ("!metadata.labels.team", True),
        ("!metadata.labels.app", False),
        ("metadata.labels.app\\.kubernetes\\.io/name == shop", True),
        ("status.conditions.0.type == Ready", True),
        ("status.conditions.1.reason == Scheduled", True),
        ("status.conditions.2.type", False),
        ("status.conditions.# == 2", True),
        ("status.conditions.Ready.status == True", True),
        ("status.conditions.PodScheduled.reason == Scheduled", True),
        ("status.conditions.Initialized.status == True", False),
        ("status.containerStatuses.main.restartCount > 2", True),
        ("status.phase.deeper", False),
        ("status.phase == Succeeded, status.succeeded > 1", True),
        ("status.phase == Succeeded, status.succeeded > 5", False),
        ("status.phase == Succeeded,metadata.labels.app==web", True),
    ],
)
def test_condition_matches_table(text: str, expected: bool) -> None:
    assert parse_condition(text).matches(POD) is expected


@pytest.mark.parametrize(
    ("text", "operator", "values"),
    [
        ("a.b == x", Operator.EQUALS, ("x",)),
        ("a.b=x", Operator.EQUALS, ("x",)),
        ("a.b!=x", Operator.NOT_EQUALS, ("x",)),
        ("a.b in (x,y , z)", Operator.IN, ("x", "y", "z")),
        ("a.b notin (x)", Operator.NOT_IN, ("x",)),
        ("a.b > -1", Operator.GREATER, ("-1",)),
        ("a.b <= 1.5", Operator.LESS_OR_EQUAL, ("1.5",)),
        ("a.b", Operator.EXISTS, ()),
        ("! a.b", Operator.DOES_NOT_EXIST, ()),
    ],
)
def test_condition_parses_operator_and_values(
    text: str, operator: Operator, values: tuple[str, ...]
) -> None:
    (requirement,) = parse_condition(text).requirements
    assert requirement.path == ("a", "b")
    assert requirement.operator is operator
    assert requirement.values == values


def test_condition_keeps_escaped_dots_in_one_segment() -> None:
    (requirement,) = parse_condition("metadata.labels.app\\.kubernetes\\.io/name").requirements
    assert requirement.path == ("metadata", "labels", "app.kubernetes.io/name")


def test_condition_prints_in_canonical_form() -> None:
    condition = parse_condition("status.phase in (A,B),!x,  y.z>=3")
    assert str(condition) == "status.phase in (A, B), !x, y.z >= 3"


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "empty"),
        ("   ", 4, "empty"),
        ("status.phase ==== x", 16, "expected a value"),
        ("status.phase == a b", 19, "expected ','"),
        ("status.phase > Running", 14, "needs a number, not 'Running'"),
        ("status.phase >", 14, "needs a number after it"),
        ("status.phase in Failed", 17, "expected '('"),
        ("status.phase in (Failed", 24, "missing ')'"),
        ("status.phase in ()", 18, "expected a value"),
        ("status.phase in (a b)", 20, "expected ',' or ')'"),
        ("status..phase == x", 1, "empty segment"),
        ("status.phase ~ x", 14, "expected an operator"),
        ("== x", 1, "expected a field path"),
        ("status.phase == x,", 19, "expected a field path"),
        ("!", 2, "expected a field path"),
    ],
)
def test_bad_condition_syntax_names_text_and_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_condition(text)
    message = str(caught.value)
    assert repr(text) in message
    assert f"at column {column}" in message
    assert fragment in message


def test_bad_condition_error_names_file_and_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_condition("status.phase >", file="workflows/app.yaml", line=12)
    assert caught.value.file == "workflows/app.yaml"
    assert caught.value.line == 12
    assert str(caught.value).startswith("workflows/app.yaml:12: ")


@pytest.mark.parametrize(
    "text",
    [
        "status.phase==Succeeded,status.succeeded>0",
        "!status.x, metadata.labels.app\\.kubernetes\\.io/name notin (a,b)",
        "status.conditions.Ready.status = True, status.n <= -1.5, a",
    ],
)
def test_condition_canonical_form_parses_the_same(text: str) -> None:
    condition = parse_condition(text)
    again = parse_condition(str(condition))
    assert again.requirements == condition.requirements


def test_condition_value_with_slashes_and_colons() -> None:
    condition = parse_condition("spec.image == registry.local:5000/shop/web:2")
    assert condition.matches({"spec": {"image": "registry.local:5000/shop/web:2"}})


def test_unmet_lists_only_failing_requirements() -> None:
    condition = parse_condition("status.phase == Succeeded, status.succeeded > 5, !status.x")
    unmet = condition.unmet(POD)
    assert [str(requirement) for requirement in unmet] == ["status.succeeded > 5"]


def test_explain_shows_actual_value_or_missing() -> None:
    present, missing = parse_condition("status.phase == Running, status.nope == 1").requirements
    assert present.explain(POD) == "status.phase == Running (status.phase is 'Succeeded')"
    assert missing.explain(POD) == "status.nope == 1 (status.nope is missing)"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Ready", "Ready"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (3, "3"),
        (2.0, "2"),
        (0.5, "0.5"),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
    ],
)
def test_value_text_renders_json_values(value: Any, text: str) -> None:
    assert value_text(value) == text


def test_lookup_index_out_of_range_is_missing() -> None:
    assert lookup(POD, ("status", "conditions", "7")) == (False, None)
