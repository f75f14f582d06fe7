"""Wait for one wave's objects to become ready, through watches rather than polling.

Each object is judged first from the body the apply returned, so kinds that are ready
once they exist (ConfigMaps, Secrets, Services, RBAC) need no watch at all. The rest get
one list-then-watch per (resource, namespace), plus a pod watch per namespace for
workloads and a StorageClass watch for PVCs. Every event runs the readiness rules again
for the objects it touches. A FAILED verdict ends the wait at once with ObjectFailed; the
first deadline to pass raises ReadinessTimeout listing every object still not ready.
Setting the optional `cancel` event ends the wait within half a second, also with
ReadinessTimeout.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from deployer.cluster import Cluster
from deployer.engine.targets import Key, Target
from deployer.errors import ApiError, DeployerError, ObjectFailed, ReadinessTimeout
from deployer.model.events import ObjectEvent, ProgressSink
from deployer.model.status import State, Status
from deployer.readiness import evaluate, needs_pods, pod_selector

log = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 0.5  # how soon a set `cancel` event ends the wait
WARNINGS_PER_OBJECT = 3  # latest distinct Warning events a timeout message shows per object
StreamKey = tuple[str, str, str | None]  # apiVersion, kind, namespace
Labels = Mapping[str, Any]


class Waiter:
    """Watch one wave until every target is ready, one fails, or a deadline passes."""

    def __init__(
        self,
        cluster: Cluster,
        targets: Iterable[Target],
        *,
        progress: ProgressSink,
        wave_timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cluster = cluster
        self.cancel = cancel
        self.targets = {target.key: target for target in targets}
        self.progress = progress
        started = time.monotonic()
        self.deadlines = {key: started + t.timeout_seconds for key, t in self.targets.items()}
        self.wave_deadline = None if wave_timeout is None else started + wave_timeout
        self.pods: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.storage_classes: dict[str, dict[str, Any]] = {}
        self.events: queue.Queue[tuple[str, Any, str, dict[str, Any]]] = queue.Queue()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def run(self) -> None:
        """Block until the wave is ready; raise ObjectFailed or ReadinessTimeout otherwise."""
        pending = self._judge_applied()
        if not pending:
            return
        try:
            self._start_watches(pending)
            while pending:
                self._next_event(pending)
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join(timeout=2.0)

    def _judge_applied(self) -> set[Key]:
        pending = set(self.targets)
        for target in self.targets.values():
            # Workloads are judged only with their pods, which the watches bring.
            if not needs_pods(target.info.kind, target.info.group):
                self._settle(pending, target, evaluate(target.live, storage_classes={}))
        return pending

    # Watches

    def _start_watches(self, pending: set[Key]) -> None:
        groups: dict[StreamKey, list[str]] = defaultdict(list)
        pod_namespaces: set[str] = set()
        for key in pending:
            target = self.targets[key]
            groups[(target.info.api_version, target.info.kind, target.namespace)].append(
                target.name
            )
            if needs_pods(target.info.kind, target.info.group) and target.namespace:
                pod_namespaces.add(target.namespace)
        for (api_version, kind, namespace), names in groups.items():
            selector = f"metadata.name={names[0]}" if len(names) == 1 else None
            self._spawn("object", (api_version, kind, namespace), selector)
        for namespace in sorted(pod_namespaces):
            self._spawn("pod", ("v1", "Pod", namespace), None)
        if any(self.targets[key].info.kind == "PersistentVolumeClaim" for key in pending):
            self._spawn("storageclass", ("storage.k8s.io/v1", "StorageClass", None), None)

    def _spawn(self, role: str, stream: StreamKey, field_selector: str | None) -> None:
        thread = threading.Thread(
            target=self._pump,
            args=(role, stream, field_selector),
            name=f"watch-{stream[1]}-{stream[2] or 'cluster'}",
            daemon=True,
        )
        self.threads.append(thread)
        thread.start()

    def _pump(self, role: str, stream: StreamKey, field_selector: str | None) -> None:
        api_version, kind, namespace = stream
        try:
            for event_type, obj in self.cluster.watch(
                api_version, kind, namespace, field_selector=field_selector, stop=self.stop
            ):
                # managedFields is often half of an object and no readiness rule reads it.
                (obj.get("metadata") or {}).pop("managedFields", None)
                self.events.put((role, stream, event_type, obj))
        except DeployerError as failure:
            self.events.put(("error", failure, "", {}))
        except Exception as failure:  # a crashed watch thread must not leave the wait hanging
            log.exception("watch of %s in %s failed", kind, namespace or "the cluster")
            self.events.put(("error", ApiError(f"watch of {kind} failed: {failure}"), "", {}))

    # Events

    def _next_event(self, pending: set[Key]) -> None:
        deadline = min(self.deadlines[key] for key in pending)
        if self.wave_deadline is not None:
            deadline = min(deadline, self.wave_deadline)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout(pending)
        if self.cancel is not None:
            if self.cancel.is_set():
                raise self._timeout(pending, cancelled=True)
            # Wake up now and then to notice `cancel`; a queue cannot wait on an Event too.
            remaining = min(remaining, CANCEL_CHECK_SECONDS)
        try:
            role, stream, event_type, obj = self.events.get(timeout=remaining)
        except queue.Empty:
            return
        if role == "error":
            raise stream
        if role == "object":
            self._on_object(pending, stream, event_type, obj)
        elif role == "pod":
            self._on_pod(pending, event_type, obj)
        else:
            self._on_storage_class(pending, event_type, obj)

    def _on_object(
        self, pending: set[Key], stream: StreamKey, event_type: str, obj: dict[str, Any]
    ) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        key = (stream[0], stream[1], stream[2], name)
        if key not in pending:
            return
        target = self.targets[key]
        if event_type == "DELETED":
            status = Status(State.FAILED, "Deleted", "the object was deleted while waiting")
        else:
            target.live = obj
            status = self._evaluate(target)
        self._settle(pending, target, status)

    def _on_pod(self, pending: set[Key], event_type: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if event_type == "DELETED":
            self.pods[namespace].pop(str(meta.get("name")), None)
        else:
            self.pods[namespace][str(meta.get("name"))] = pod
        labels: Labels = meta.get("labels") or {}
        for key in list(pending):
            target = self.targets[key]
            if target.namespace != namespace or not needs_pods(target.info.kind, target.info.group):
                continue
            selector = pod_selector(target.live)
            if selector is not None and _labels_match(selector, labels):
                self._settle(pending, target, self._evaluate(target))

    def _on_storage_class(self, pending: set[Key], event_type: str, obj: dict[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if event_type == "DELETED":
            self.storage_classes.pop(name, None)
        else:
            self.storage_classes[name] = obj
        for key in list(pending):
            target = self.targets[key]
            if target.info.kind == "PersistentVolumeClaim":
                self._settle(pending, target, self._evaluate(target))

    def _evaluate(self, target: Target) -> Status:
        pods: list[dict[str, Any]] = []
        if needs_pods(target.info.kind, target.info.group) and target.namespace:
            selector = pod_selector(target.live) or {}
            pods = [
                pod
                for pod in self.pods[target.namespace].values()
                if _labels_match(selector, (pod.get("metadata") or {}).get("labels") or {})
            ]
        return evaluate(target.live, pods=pods, storage_classes=self.storage_classes)

    def _settle(self, pending: set[Key], target: Target, status: Status) -> None:
        self._update(target, status)
        if status.state is State.FAILED:
            raise ObjectFailed(
                f"{target.describe()} failed: {status.reason}: {status.message}".rstrip(": ")
            )
        if status.done:
            pending.discard(target.key)

    def _update(self, target: Target, status: Status) -> None:
        previous = target.status
        target.status = status
        if (previous.state, previous.reason) == (status.state, status.reason):
            return
        log.info(
            "%s is %s: %s", target.describe(), status.state.value, status.message or status.reason
        )
        self.progress(
            ObjectEvent(
                ref=target.ref,
                state=status.state,
                reason=status.reason,
                message=status.message,
                wave=target.wave,
            )
        )

    # Timeouts

    def _timeout(self, pending: set[Key], *, cancelled: bool = False) -> ReadinessTimeout:
        now = time.monotonic()
        waiting = [self.targets[key] for key in sorted(pending, key=str)]
        # One events list per namespace, however many objects are still waiting there.
        warnings = {
            namespace: self.cluster.warning_events(namespace, limit=WARNINGS_PER_OBJECT)
            for namespace in {target.namespace for target in waiting}
        }
        lines = []
        for target in waiting:
            status = target.status
            waited = now - (self.deadlines[target.key] - target.timeout_seconds)
            line = f"  {target.describe()}: {status.state.value}"
            if status.reason or status.message:
                line += f" ({status.reason}: {status.message})".replace(": )", ")")
            line += f" after {waited:.0f} s"
            conditions = _conditions(target.live)
            if conditions:
                line += f"\n    conditions: {conditions}"
            for warning in warnings[target.namespace].get((target.info.kind, target.name), []):
                line += f"\n    warning: {warning}"
            lines.append(line)
        if cancelled:
            return ReadinessTimeout(
                f"the wait was stopped with {len(pending)} object(s) not ready:\n"
                + "\n".join(lines)
            )
        return ReadinessTimeout(
            f"{len(pending)} object(s) not ready before the timeout:\n"
            + "\n".join(lines)
            + "\nRaise deployer.dev/timeout or --timeout if they are only slow."
        )


def _conditions(obj: Mapping[str, Any]) -> str:
    """Summarise the status conditions as `Type=Status (Reason)`, comma-separated."""
    parts = []
    for condition in (obj.get("status") or {}).get("conditions") or []:
        part = f"{condition.get('type')}={condition.get('status')}"
        if condition.get("reason"):
            part += f" ({condition['reason']})"
        parts.append(part)
    return ", ".join(parts)


def _labels_match(selector: Mapping[str, str], labels: Labels) -> bool:
    return all(str(labels.get(key)) == value for key, value in selector.items())
