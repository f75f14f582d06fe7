"""The readiness waiter driven by an in-memory stand-in for the cluster's watches."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from deployer.cluster.discovery import ResourceInfo
from deployer.engine.targets import Target
from deployer.engine.waiter import PodCache, Waiter, WorkloadIndex
from deployer.errors import ObjectFailed, ReadinessTimeout
from deployer.model.events import ObjectEvent
from deployer.model.objects import Manifest
from deployer.model.status import State

DEPLOYMENTS = ResourceInfo("apps", "v1", "Deployment", "deployments", True)
CONFIGMAPS = ResourceInfo("", "v1", "ConfigMap", "configmaps", True)


class StandIn:
    """Serves fixed watch events per kind, then blocks until stopped, like a quiet watch."""

    def __init__(self, events: dict[str, list[tuple[str, dict[str, Any]]]]) -> None:
        self.events = events
        self.watched: list[tuple[str, str | None, str | None]] = []
        self.event_lists: list[str | None] = []  # namespaces whose Warning events were read

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        field_selector: str | None = None,
        stop: threading.Event,
        **_: Any,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watched.append((kind, namespace, field_selector))
        yield from self.events.get(kind, [])
        stop.wait()

    def warning_events(
        self, namespace: str | None, *, limit: int = 5
    ) -> dict[tuple[str, str], list[str]]:
        self.event_lists.append(namespace)
        return {
            ("Deployment", f"slow-{i}"): [f"FailedScheduling: no node for slow-{i}"]
            for i in range(100)
        } | {("Deployment", "slow"): ["FailedScheduling: no node for slow"]}


def _deployment(name: str, *, ready: int, generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "generation": generation},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "observedGeneration": generation,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True" if ready else "False"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def _crashing_pod(app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{app}-1", "namespace": "shop", "labels": {"app": app}},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": app,
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                }
            ],
        },
    }


def _target(info: ResourceInfo, name: str, live: dict[str, Any], timeout: float = 30) -> Target:
    return Target(
        manifest=Manifest(live),
        info=info,
        name=name,
        namespace="shop",
        wave=0,
        live=live,
        change="created",
        timeout_seconds=timeout,
    )


def test_ready_from_apply_response_needs_no_watch() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "shop"},
    }
    stand_in = StandIn({})
    events: list[ObjectEvent] = []
    Waiter(stand_in, [_target(CONFIGMAPS, "c", config)], progress=events.append).run()  # type: ignore[arg-type]
    assert stand_in.watched == []
    assert [event.state for event in events] == [State.READY]


def test_crashlooping_pod_fails_wait_at_once() -> None:
    stand_in = StandIn(
        {
            "Deployment": [
                ("ADDED", _deployment("carts", ready=0)),
                ("ADDED", _deployment("orders", ready=0)),
            ],
            "Pod": [("ADDED", _crashing_pod("carts"))],
        }
    )
    targets = [
        _target(DEPLOYMENTS, "carts", _deployment("carts", ready=0), timeout=300),
        _target(DEPLOYMENTS, "orders", _deployment("orders", ready=0), timeout=300),
    ]
    started = time.monotonic()
    with pytest.raises(ObjectFailed) as raised:
        Waiter(stand_in, targets, progress=lambda _event: None).run()  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert "Deployment shop/carts" in str(raised.value)
    assert "CrashLoopBackOff" in str(raised.value)
    assert ("Pod", "shop", None) in stand_in.watched


def test_one_watch_per_kind_and_namespace() -> None:
    stand_in = StandIn(
        {"Deployment": [("ADDED", _deployment("a", ready=1)), ("ADDED", _deployment("b", ready=1))]}
    )
    targets = [
        _target(DEPLOYMENTS, "a", _deployment("a", ready=0)),
        _target(DEPLOYMENTS, "b", _deployment("b", ready=0)),
    ]
    Waiter(stand_in, targets, progress=lambda _event: None).run()  # type: ignore[arg-type]
    assert stand_in.watched.count(("Deployment", "shop", None)) == 1


def test_timeout_lists_every_pending_object_with_warnings() -> None:
    stand_in = StandIn({"Deployment": [("ADDED", _deployment("slow", ready=0))]})
    targets = [_target(DEPLOYMENTS, "slow", _deployment("slow", ready=0), timeout=0.5)]
    with pytest.raises(ReadinessTimeout) as raised:
        Waiter(stand_in, targets, progress=lambda _event: None).run()  # type: ignore[arg-type]
    message = str(raised.value)
    assert "Deployment shop/slow: InProgress" in message
    assert "FailedScheduling: no node for slow" in message
    assert "Available=False" in message


def test_timeout_details_every_object_with_one_event_list() -> None:
    names = [f"slow-{i}" for i in range(30)]
    stand_in = StandIn({"Deployment": [("ADDED", _deployment(name, ready=0)) for name in names]})
    targets = [
        _target(DEPLOYMENTS, name, _deployment(name, ready=0), timeout=0.5) for name in names
    ]
    with pytest.raises(ReadinessTimeout) as raised:
        Waiter(stand_in, targets, progress=lambda _event: None).run()  # type: ignore[arg-type]
    message = str(raised.value)
    assert message.startswith("30 object(s) not ready")
    for name in names:
        assert f"Deployment shop/{name}: InProgress" in message
        assert f"warning: FailedScheduling: no node for {name}" in message
    assert message.count("conditions: Available=False") == 30
    assert stand_in.event_lists == ["shop"]


def test_deleted_object_fails_the_wait() -> None:
    stand_in = StandIn({"Deployment": [("DELETED", _deployment("gone", ready=0))]})
    targets = [_target(DEPLOYMENTS, "gone", _deployment("gone", ready=0))]
    with pytest.raises(ObjectFailed) as raised:
        Waiter(stand_in, targets, progress=lambda _event: None).run()  # type: ignore[arg-type]
    assert "deleted" in str(raised.value)


def test_cancel_event_ends_wait_early() -> None:
    stand_in = StandIn({"Deployment": [("ADDED", _deployment("slow", ready=0))]})
    targets = [_target(DEPLOYMENTS, "slow", _deployment("slow", ready=0), timeout=300)]
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ReadinessTimeout) as raised:
        Waiter(stand_in, targets, progress=lambda _event: None, cancel=cancel).run()  # type: ignore[arg-type]
    assert time.monotonic() - started < 3
    assert "stopped" in str(raised.value)
    assert "Deployment shop/slow" in str(raised.value)


def test_failed_verdict_from_apply_response_raises() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "status": {
            "conditions": [
                {"type": "NamesAccepted", "status": "False", "reason": "NameConflict"},
            ]
        },
    }
    info = ResourceInfo(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
    )
    target = _target(info, "widgets.example.com", crd)
    target.namespace = None
    with pytest.raises(ObjectFailed) as raised:
        Waiter(StandIn({}), [target], progress=lambda _event: None).run()  # type: ignore[arg-type]
    assert "NameConflict" in str(raised.value)


def _pod(name: str, app: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}, "uid": "u"},
        "spec": {"containers": [{"name": "app", "image": "web:1"}], "volumes": [{"name": "v"}]},
        "status": {"phase": "Pending", "podIP": "10.0.0.1"},
        **fields,
    }


def test_waiter_keeps_cut_down_pods_and_workloads() -> None:
    deployment = _deployment("web", ready=0)
    deployment["spec"]["template"] = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "web:1"}], "volumes": [{"name": "v"}]},
    }
    stand_in = StandIn(
        {"Deployment": [("ADDED", deployment)], "Pod": [("ADDED", _pod("web-1", "web"))]}
    )
    target = _target(DEPLOYMENTS, "web", deployment, timeout=0.5)
    waiter = Waiter(stand_in, [target], progress=lambda _event: None)  # type: ignore[arg-type]
    with pytest.raises(ReadinessTimeout):
        waiter.run()
    kept = waiter.pods.pods["shop"]["web-1"]
    assert kept["spec"] == {"containers": [{"name": "app", "image": "web:1"}]}
    assert kept["status"] == {"phase": "Pending"}
    assert "uid" not in kept["metadata"]
    assert target.live["spec"]["template"]["spec"] == {
        "containers": [{"name": "app", "image": "web:1"}]
    }


def test_pod_cache_lists_pods_in_first_seen_order() -> None:
    cache = PodCache()
    cache.put("shop", "b", _pod("b", "web"))
    cache.put("shop", "a", _pod("a", "web"))
    cache.put("shop", "c", _pod("c", "api"))
    cache.put("shop", "b", _pod("b", "web", status={"phase": "Running"}))
    names = [pod["metadata"]["name"] for pod in cache.matching("shop", {"app": "web"})]
    assert names == ["b", "a"]
    assert cache.matching("shop", {"app": "web"})[0]["status"] == {"phase": "Running"}
    assert len(cache.matching("shop", {})) == 3


def test_pod_cache_follows_label_changes_and_deletions() -> None:
    cache = PodCache()
    cache.put("shop", "a", _pod("a", "web"))
    cache.put("shop", "a", _pod("a", "api"))
    assert cache.matching("shop", {"app": "web"}) == []
    assert [pod["metadata"]["name"] for pod in cache.matching("shop", {"app": "api"})] == ["a"]
    cache.remove("shop", "a")
    assert cache.matching("shop", {"app": "api"}) == []
    assert cache.matching("other", {"app": "api"}) == []


def test_pod_cache_needs_every_selector_label() -> None:
    cache = PodCache()
    both = _pod("both", "web")
    both["metadata"]["labels"]["tier"] = "front"
    cache.put("shop", "both", both)
    cache.put("shop", "one", _pod("one", "web"))
    found = cache.matching("shop", {"app": "web", "tier": "front"})
    assert [pod["metadata"]["name"] for pod in found] == ["both"]


def test_workload_index_finds_workloads_by_pod_labels() -> None:
    index = WorkloadIndex()
    web = _target(DEPLOYMENTS, "web", _deployment("web", ready=0))
    api = _target(DEPLOYMENTS, "api", _deployment("api", ready=0))
    every = _target(DEPLOYMENTS, "every", _deployment("every", ready=0))
    every.live["spec"]["selector"] = {"matchExpressions": []}
    bare = _target(DEPLOYMENTS, "bare", _deployment("bare", ready=0))
    del bare.live["spec"]["selector"]
    for target in (web, api, every, bare):
        index.file(target)
    assert index.matching("shop", {"app": "web", "other": "x"}) == {web.key, every.key}
    assert index.matching("shop", {"app": "db"}) == {every.key}
    assert index.matching("elsewhere", {"app": "web"}) == set()


def test_workload_index_follows_selector_change() -> None:
    index = WorkloadIndex()
    target = _target(DEPLOYMENTS, "web", _deployment("web", ready=0))
    index.file(target)
    target.live = _deployment("web", ready=0)
    target.live["spec"]["selector"] = {"matchLabels": {"app": "web-v2"}}
    index.file(target)
    assert index.matching("shop", {"app": "web"}) == set()
    assert index.matching("shop", {"app": "web-v2"}) == {target.key}


def test_pod_event_judges_only_matching_workloads() -> None:
    stand_in = StandIn(
        {
            "Deployment": [("ADDED", _deployment(name, ready=0)) for name in ("carts", "orders")],
            "Pod": [("ADDED", _crashing_pod("orders"))],
        }
    )
    targets = [
        _target(DEPLOYMENTS, name, _deployment(name, ready=0), timeout=300)
        for name in ("carts", "orders")
    ]
    with pytest.raises(ObjectFailed) as raised:
        Waiter(stand_in, targets, progress=lambda _event: None).run()  # type: ignore[arg-type]
    assert "Deployment shop/orders" in str(raised.value)
    assert targets[0].status.state is not State.FAILED
