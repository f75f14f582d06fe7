"""The runner's one door to the cluster: run a pod to its end, carry out a resource action.

`Executor` is the interface. `ClusterExecutor` implements it with `Cluster`, and
`deployer.engine.workflow.memory.MemoryExecutor` replaces it in unit tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.workflow import pods
from deployer.engine.workflow.pods import PodResult
from deployer.errors import ApiError, WorkflowError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceRequest:
    """One `resource` template action over one or more manifests (multi-document allowed)."""

    action: str  # create, apply, patch, delete or get
    manifests: list[dict[str, Any]]
    namespace: str  # default namespace for manifests that name none
    success_condition: str | None = None
    failure_condition: str | None = None
    merge_strategy: str = "strategic"  # patch type for `patch`: strategic or merge
    owner: Mapping[str, Any] | None = None  # an ownerReference to set on created objects


@dataclass
class ResourceResult:
    """The end of a resource action: phase, message and the objects as stored by the server."""

    phase: str
    message: str = ""
    objects: list[dict[str, Any]] = field(default_factory=list)


class Executor(Protocol):
    """Carries out the leaves of a workflow; every call blocks until the leaf is done."""

    def run_pod(
        self, pod: dict[str, Any], *, cancel: threading.Event, deadline: float | None
    ) -> PodResult: ...

    def run_resource(
        self, request: ResourceRequest, *, cancel: threading.Event, deadline: float | None
    ) -> ResourceResult: ...

    def run_kind(
        self, kind: str, spec: Mapping[str, Any], ctx: TemplateContext
    ) -> TemplateResult: ...

    def owner_anchor(self, run: str, namespace: str) -> dict[str, Any]: ...

    @property
    def cluster(self) -> Any: ...

    def close(self) -> None: ...


class PodWatcher:
    """One watch over the pods of a run in one namespace; waiters block on its condition."""

    def __init__(self, cluster: Any, namespace: str, run: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.selector = f"{pods.RUN_LABEL}={run}"
        self.latest: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.condition = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"pods-{run}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                events = self.cluster.watch(
                    "v1", "Pod", self.namespace, label_selector=self.selector, stop=self.stop
                )
                for kind, pod in events:
                    name = pod["metadata"]["name"]
                    with self.condition:
                        if kind == "DELETED":
                            self.deleted.add(name)
                        else:
                            self.latest[name] = pod
                            self.deleted.discard(name)
                        self.condition.notify_all()
            except ApiError as failed:
                log.warning(
                    "pod watch in %s failed: %s; watching again in 1 s", self.namespace, failed
                )
                self.stop.wait(1.0)

    def wait(
        self, name: str, *, cancel: threading.Event, deadline: float | None
    ) -> tuple[PodResult | None, str]:
        """Wait for a pod's end; return (result, "") or (None, why the wait was cut short)."""
        with self.condition:
            while True:
                pod = self.latest.get(name)
                if pod is not None:
                    outcome = pods.pod_outcome(pod)
                    if outcome is not None:
                        return outcome, ""
                if name in self.deleted:
                    return None, "deleted"
                if cancel.is_set():
                    return None, "cancelled"
                if deadline is not None and time.monotonic() >= deadline:
                    return None, "deadline"
                self.condition.wait(0.5)

    def close(self) -> None:
        self.stop.set()


class ClusterExecutor:
    """Runs pods and resource actions on a cluster reached through `Cluster`."""

    def __init__(self, cluster: Any, *, run: str) -> None:
        self._cluster = cluster
        self.run = run
        self._watchers: dict[str, PodWatcher] = {}
        self._lock = threading.Lock()
        self._anchors: dict[str, dict[str, Any]] = {}

    @property
    def cluster(self) -> Any:
        return self._cluster

    def _watcher(self, namespace: str) -> PodWatcher:
        with self._lock:
            if namespace not in self._watchers:
                self._watchers[namespace] = PodWatcher(self._cluster, namespace, self.run)
            return self._watchers[namespace]

    def run_pod(
        self, pod: dict[str, Any], *, cancel: threading.Event, deadline: float | None
    ) -> PodResult:
        meta = pod["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        watcher = self._watcher(namespace)
        try:
            # Strict: the parser checks only a container's own keys, and without it the API
            # server drops an unknown nested key (such as `resources.limit`) with a warning.
            self._cluster.create(pod, strict=True)
        except ApiError as failed:
            if failed.status != 409:
                return PodResult(
                    "Error", message=f"creating pod {namespace}/{name} failed: {failed}"
                )
            log.info("pod %s/%s exists already; following it", namespace, name)
        result, cut = watcher.wait(name, cancel=cancel, deadline=deadline)
        if result is None:
            self._delete_pod(name, namespace)
            return PodResult("Failed", message=_cut_message(cut, name))
        if not result.termination_message and result.phase == "Succeeded":
            result = PodResult(
                result.phase, result.message, result.exit_code, "", self._read_log(name, namespace)
            )
        if len(pod["spec"]["containers"]) > 1:
            # The main container ended; stop the sidecars by deleting the pod.
            self._delete_pod(name, namespace)
        return result

    def _read_log(self, name: str, namespace: str) -> str:
        try:
            return "\n".join(self._cluster.pod_log(name, namespace, container=pods.MAIN_CONTAINER))
        except Exception as failed:
            # NOTE: the local control plane's simulated kubelet serves no logs, and
            # Cluster.pod_log may raise the client's own exception type rather than ApiError.
            # A missing log must not fail the node, so the result is then empty unless the
            # pod wrote a termination message.
            log.info("no log for pod %s/%s: %s", namespace, name, str(failed).splitlines()[0])
            return ""

    def _delete_pod(self, name: str, namespace: str) -> None:
        try:
            self._cluster.delete("v1", "Pod", name, namespace)
        except ApiError as failed:
            log.warning("deleting pod %s/%s failed: %s", namespace, name, failed)

    def run_resource(
        self, request: ResourceRequest, *, cancel: threading.Event, deadline: float | None
    ) -> ResourceResult:
        from deployer.engine.workflow.resource import carry_out

        return carry_out(self._cluster, request, cancel=cancel, deadline=deadline)

    def run_kind(self, kind: str, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        from deployer.engine.templates import KINDS

        implementation = KINDS.get(kind)
        if implementation is None:
            raise WorkflowError(f"template kind {kind!r} is not available; known: {sorted(KINDS)}")
        return implementation.run(spec, ctx)

    def owner_anchor(self, run: str, namespace: str) -> dict[str, Any]:
        from deployer.engine.workflow.resource import ensure_anchor

        with self._lock:
            if namespace not in self._anchors:
                self._anchors[namespace] = ensure_anchor(self._cluster, run, namespace)
            return self._anchors[namespace]

    def close(self) -> None:
        for watcher in self._watchers.values():
            watcher.close()


def _cut_message(cut: str, name: str) -> str:
    if cut == "deadline":
        return f"pod {name} was active longer than the deadline; it was deleted"
    if cut == "cancelled":
        return f"pod {name} was deleted because the run was stopped"
    return f"pod {name} was deleted before it finished"
