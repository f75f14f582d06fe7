"""Rules that apply to every kind: deletion, generations, annotations, kstatus conditions."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.errors import InputError
from deployer.model.status import State
from deployer.readiness import (
    RULES,
    conditions_of,
    evaluate,
    needs_pods,
    pod_selector,
    validate_annotations,
)


def widget(
    *conditions: dict[str, Any],
    annotations: dict[str, str] | None = None,
    generation: int | None = 3,
    observed: int | None = 3,
    **status: Any,
) -> dict[str, Any]:
    """Build a custom resource with the given conditions and status fields."""
    body: dict[str, Any] = dict(status)
    if conditions:
        body["conditions"] = list(conditions)
    if observed is not None:
        body["observedGeneration"] = observed
    metadata: dict[str, Any] = {"name": "blue", "namespace": "shop"}
    if generation is not None:
        metadata["generation"] = generation
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": metadata,
        "spec": {"size": 2},
        "status": body,
    }


def ready_condition(status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "message": message}


def test_deleted_object_is_terminating() -> None:
    obj = widget(ready_condition("True"))
    obj["metadata"]["deletionTimestamp"] = "2026-12-04T04:00:00Z"
    assert evaluate(obj).state is State.TERMINATING


def test_generation_not_observed_in_progress() -> None:
    status = evaluate(widget(ready_condition("True"), generation=4, observed=3))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "GenerationNotObserved"
    assert status.message == "waiting for the controller to observe generation 4 (observed 3)"


def test_custom_resource_needs_no_observed_generation() -> None:
    assert evaluate(widget(ready_condition("True"), observed=None)).state is State.READY


def test_stalled_condition_fails() -> None:
    stalled = {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "bad"}
    status = evaluate(widget(stalled, ready_condition("True")))
    assert status.state is State.FAILED
    assert status.reason == "InvalidSpec"


def test_reconciling_condition_is_in_progress() -> None:
    reconciling = {"type": "Reconciling", "status": "True", "reason": "Progressing"}
    status = evaluate(widget(reconciling, ready_condition("True")))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "Progressing"


def test_reconciling_false_does_not_block() -> None:
    done = {"type": "Reconciling", "status": "False"}
    assert evaluate(widget(done, ready_condition("True"))).state is State.READY


@pytest.mark.parametrize(
    ("value", "state"),
    [("True", State.READY), ("False", State.IN_PROGRESS), ("Unknown", State.IN_PROGRESS)],
)
def test_custom_resource_follows_ready_condition(value: str, state: State) -> None:
    status = evaluate(widget(ready_condition(value, "Waiting", "pulling chart")))
    assert status.state is state


def test_custom_resource_stale_ready_condition_waits() -> None:
    stale = {**ready_condition("True"), "observedGeneration": 2}
    status = evaluate(widget(stale, observed=None))
    assert status.state is State.IN_PROGRESS
    assert status.message == "waiting for the Ready condition of generation 3 (it is of 2)"


def test_custom_resource_current_ready_condition_is_ready() -> None:
    current = {**ready_condition("True"), "observedGeneration": 3}
    assert evaluate(widget(current, observed=None)).state is State.READY


def test_custom_resource_not_ready_shows_condition() -> None:
    status = evaluate(widget(ready_condition("False", "ChartPullFailed", "no such chart")))
    assert status.reason == "ChartPullFailed"
    assert (
        status.message
        == "waiting for condition Ready: Ready=False (ChartPullFailed): no such chart"
    )


def test_custom_resource_without_status_is_ready() -> None:
    obj = widget(observed=None)
    del obj["status"]
    status = evaluate(obj)
    assert status.state is State.READY
    assert status.message == "exists (no status)"


def test_readiness_skip_annotation_skips() -> None:
    obj = widget(ready_condition("False"), annotations={"deployer.dev/readiness": "skip"})
    assert evaluate(obj).state is State.SKIPPED


def test_readiness_skip_annotation_ignores_case_and_spaces() -> None:
    obj = widget(ready_condition("False"), annotations={"deployer.dev/readiness": " Skip "})
    assert evaluate(obj).state is State.SKIPPED


def test_readiness_annotation_other_value_is_rejected() -> None:
    obj = widget(ready_condition("False"), annotations={"deployer.dev/readiness": "wait"})
    with pytest.raises(InputError) as caught:
        evaluate(obj)
    assert "Widget shop/blue: annotation deployer.dev/readiness is 'wait'" in str(caught.value)
    assert "only supported value is skip" in str(caught.value)


@pytest.mark.parametrize(
    "annotations",
    [
        {"deployer.dev/readiness": "later"},
        {"deployer.dev/success-condition": "status.phase in Ready"},
        {"deployer.dev/failure-condition": ""},
    ],
)
def test_validate_annotations_rejects_bad_values(annotations: dict[str, str]) -> None:
    with pytest.raises(InputError):
        validate_annotations(widget(annotations=annotations))


def test_validate_annotations_names_manifest_source() -> None:
    bad = widget(annotations={"deployer.dev/readiness": "later"})
    with pytest.raises(InputError) as caught:
        validate_annotations(bad, file="stack/widgets.yaml", line=7)
    assert str(caught.value).startswith("stack/widgets.yaml:7: Widget shop/blue: annotation")


def test_validate_annotations_accepts_good_values() -> None:
    annotations = {
        "deployer.dev/readiness": "skip",
        "deployer.dev/success-condition": "status.phase == Ready",
        "deployer.dev/failure-condition": "status.phase in (Failed, Error)",
    }
    validate_annotations(widget(annotations=annotations))


def test_success_condition_overrides_kind_rule() -> None:
    obj = widget(
        ready_condition("False"),
        annotations={"deployer.dev/success-condition": "status.phase == Ready"},
        phase="Ready",
    )
    status = evaluate(obj)
    assert status.state is State.READY
    assert status.reason == "SuccessCondition"


def test_unmet_success_condition_explains_values() -> None:
    obj = widget(
        ready_condition("True"),
        annotations={"deployer.dev/success-condition": "status.phase == Ready, status.size > 1"},
        phase="Pending",
        size=2,
    )
    status = evaluate(obj)
    assert status.state is State.IN_PROGRESS
    assert status.reason == "SuccessConditionUnmet"
    assert status.message == (
        "waiting for success condition: status.phase == Ready (status.phase is 'Pending')"
    )


def test_failure_condition_checked_before_success_condition() -> None:
    annotations = {
        "deployer.dev/success-condition": "status.phase in (Ready, Failed)",
        "deployer.dev/failure-condition": "status.phase == Failed",
    }
    status = evaluate(widget(annotations=annotations, phase="Failed"))
    assert status.state is State.FAILED
    assert status.reason == "FailureCondition"
    assert "status.phase == Failed" in status.message


def test_failure_condition_alone_leaves_readiness_to_kind_rule() -> None:
    annotations = {"deployer.dev/failure-condition": "status.phase == Failed"}
    assert evaluate(widget(ready_condition("True"), annotations=annotations)).state is State.READY
    waiting = evaluate(widget(ready_condition("False"), annotations=annotations))
    assert waiting.state is State.IN_PROGRESS


def test_success_condition_applies_to_builtin_kinds() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "seed",
            "namespace": "shop",
            "annotations": {"deployer.dev/success-condition": "status.active > 0"},
        },
        "status": {"active": 1},
    }
    assert evaluate(job).state is State.READY


def test_malformed_condition_annotation_raises_input_error_naming_object() -> None:
    obj = widget(annotations={"deployer.dev/failure-condition": "status.phase >"})
    with pytest.raises(InputError) as caught:
        evaluate(obj)
    message = str(caught.value)
    assert message.startswith("Widget shop/blue: annotation deployer.dev/failure-condition: ")
    assert "at column 14" in message


def test_conditions_of_parses_both_annotations() -> None:
    annotations = {
        "deployer.dev/success-condition": "status.phase == Ready",
        "deployer.dev/failure-condition": "status.phase == Failed",
    }
    success, failure = conditions_of(widget(annotations=annotations))
    assert success is not None
    assert str(success) == "status.phase == Ready"
    assert failure is not None
    assert str(failure) == "status.phase == Failed"
    assert conditions_of(widget()) == (None, None)


def test_builtin_kind_in_other_group_is_custom() -> None:
    obj = widget(ready_condition("True"))
    obj["kind"] = "Deployment"
    assert evaluate(obj).state is State.READY
    assert ("example.com", "Deployment") not in RULES


@pytest.mark.parametrize(
    ("kind", "group", "expected"),
    [
        ("Deployment", None, True),
        ("StatefulSet", None, True),
        ("DaemonSet", None, True),
        ("ReplicaSet", None, True),
        ("Job", None, True),
        ("Job", "batch", True),
        ("Job", "batch.volcano.sh", False),
        ("Pod", None, False),
        ("Service", None, False),
        ("CronJob", None, False),
    ],
)
def test_needs_pods_table(kind: str, group: str | None, expected: bool) -> None:
    assert needs_pods(kind, group) is expected


def test_pod_selector_returns_match_labels() -> None:
    obj = {
        "kind": "Deployment",
        "spec": {
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "Exists"}],
            }
        },
    }
    assert pod_selector(obj) == {"app": "web"}


def test_job_pod_selector_defaults_to_uid_label() -> None:
    obj = {"kind": "Job", "metadata": {"uid": "0b1c"}, "spec": {}}
    assert pod_selector(obj) == {"batch.kubernetes.io/controller-uid": "0b1c"}


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "ConfigMap", "spec": {"selector": {"matchLabels": {"a": "b"}}}},
        {"kind": "Deployment", "spec": {}},
    ],
)
def test_pod_selector_none_without_pods(obj: dict[str, Any]) -> None:
    assert pod_selector(obj) is None
