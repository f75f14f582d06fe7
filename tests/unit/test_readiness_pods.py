"""Pod problem summaries and the selection of a workload's current pods."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.readiness.pods import (
    ContainerProblem,
    container_problems,
    first_failure,
    restart_count,
    summarize,
    termination_message,
)
from deployer.readiness.selection import runs_template, select_pods, selector_matches


def pod(
    name: str,
    *statuses: dict[str, Any],
    phase: str = "Running",
    init: tuple[dict[str, Any], ...] = (),
    ready: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "shop", "labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": entry["name"]} for entry in statuses]},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": str(ready)}],
            "initContainerStatuses": list(init),
            "containerStatuses": list(statuses),
        },
    }


def waiting(name: str, reason: str, message: str = "", restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}} if restarts else {},
    }


def running(name: str, restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": True, "restartCount": restarts, "state": {"running": {}}}


def test_container_problem_reads_like_a_sentence() -> None:
    problem = ContainerProblem("web-a", "app", "CrashLoopBackOff", "back-off 5m0s", 7, 137)
    assert str(problem) == (
        "pod web-a container app: CrashLoopBackOff: back-off 5m0s (last exit code 137, 7 restarts)"
    )


def test_container_problems_skip_healthy_and_starting_containers() -> None:
    subject = pod(
        "web-a",
        running("sidecar"),
        waiting("app", "CrashLoopBackOff", "back-off 10s", restarts=3),
        waiting("proxy", "ContainerCreating"),
    )
    (problem,) = container_problems(subject)
    assert problem.container == "app"
    assert problem.reason == "CrashLoopBackOff"
    assert problem.restarts == 3
    assert problem.exit_code == 137


def test_init_container_problem_is_marked_init() -> None:
    subject = pod(
        "web-a", waiting("app", "PodInitializing"), init=(waiting("setup", "ErrImagePull"),)
    )
    problem = first_failure([subject])
    assert problem is not None
    assert problem.init
    assert str(problem).startswith("pod web-a init container setup: ErrImagePull")


def test_terminated_with_non_zero_exit_is_a_problem() -> None:
    done = {"name": "main", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
    (problem,) = container_problems(pod("task", done, phase="Failed"))
    assert problem.reason == "Error"
    assert problem.exit_code == 1


def test_terminated_with_zero_exit_is_not_a_problem() -> None:
    done = {"name": "main", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    assert container_problems(pod("task", done, phase="Succeeded")) == []


def test_first_failure_picks_pods_by_name_and_reason() -> None:
    pods = [
        pod("web-c", waiting("app", "ImagePullBackOff")),
        pod("web-b", waiting("app", "CrashLoopBackOff")),
        pod("web-a", waiting("app", "ContainerCreating")),
    ]
    problem = first_failure(pods)
    assert problem is not None
    assert problem.pod == "web-b"
    only_images = first_failure(pods, frozenset({"ImagePullBackOff"}))
    assert only_images is not None
    assert only_images.pod == "web-c"


def test_first_failure_skips_pods_being_deleted() -> None:
    leaving = pod("web-a", waiting("app", "CrashLoopBackOff"))
    leaving["metadata"]["deletionTimestamp"] = "2026-12-04T04:00:00Z"
    assert first_failure([leaving]) is None


def test_restart_count_sums_all_containers() -> None:
    subject = pod("web-a", running("app", 2), running("proxy", 1), init=(running("setup", 4),))
    assert restart_count(subject) == 7


def test_termination_message_of_first_or_named_container() -> None:
    first = {"name": "main", "state": {"terminated": {"exitCode": 0, "message": "rows=42"}}}
    second = {"name": "log", "state": {"terminated": {"exitCode": 0, "message": "shipped"}}}
    subject = pod("task", first, second, phase="Succeeded")
    assert termination_message(subject) == "rows=42"
    assert termination_message(subject, "log") == "shipped"
    assert termination_message(pod("web", running("app"))) is None


def test_summarize_counts_states_and_names_first_problem() -> None:
    pods = [
        pod("web-a", running("app"), ready=True),
        pod("web-b", running("app"), ready=True),
        pod("web-c", waiting("app", "CrashLoopBackOff", "back-off 10s")),
    ]
    assert summarize(pods) == (
        "3 pods: 1 not ready, 2 ready; pod web-c container app: CrashLoopBackOff: back-off 10s"
    )


def test_summarize_without_pods() -> None:
    assert summarize([]) == "no pods"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "front"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
            {"tier": "a"},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": "x"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": "x"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Bogus"}]}, {"tier": "x"}, False),
    ],
)
def test_selector_matches_table(
    selector: dict[str, Any], labels: dict[str, str], expected: bool
) -> None:
    assert selector_matches(selector, labels) is expected


def test_select_pods_keeps_same_namespace_and_selector() -> None:
    workload = {
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    mine = pod("web-a", running("app"))
    elsewhere = pod("web-b", running("app"))
    elsewhere["metadata"]["namespace"] = "other"
    stranger = pod("db-0", running("app"), labels={"app": "db"})
    assert select_pods(workload, [mine, elsewhere, stranger]) == [mine]


TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}, "annotations": {"restartedAt": "t1"}},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "web:2",
                "args": ["--port", "80"],
                "env": [{"name": "A", "value": "1"}],
            }
        ]
    },
}


def template_pod(**changes: Any) -> dict[str, Any]:
    container = {**TEMPLATE["spec"]["containers"][0], "imagePullPolicy": "IfNotPresent"}
    container.update(changes)
    return {
        "metadata": {
            "name": "web-a",
            "labels": {"app": "web", "pod-template-hash": "5d9"},
            "annotations": {"restartedAt": "t1", "extra": "x"},
        },
        "spec": {"containers": [container, {"name": "injected-sidecar", "image": "mesh:1"}]},
    }


def test_pod_with_defaults_and_sidecar_runs_template() -> None:
    assert runs_template(template_pod(), TEMPLATE)


@pytest.mark.parametrize(
    "changes",
    [
        {"image": "web:1"},
        {"args": ["--port", "81"]},
        {"env": [{"name": "A", "value": "2"}]},
    ],
)
def test_pod_with_other_container_spec_is_old(changes: dict[str, Any]) -> None:
    assert not runs_template(template_pod(**changes), TEMPLATE)


def test_pod_from_before_restart_does_not_run_template() -> None:
    old = template_pod()
    old["metadata"]["annotations"]["restartedAt"] = "t0"
    assert not runs_template(old, TEMPLATE)
