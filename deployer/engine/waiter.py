"""Wait for one wave's objects to become ready, through watches rather than polling.

Each object is judged first from the body the apply returned, so kinds that are ready
once they exist (ConfigMaps, Secrets, Services, RBAC) need no watch at all. The rest get
one list-then-watch per (resource, namespace), plus a pod watch per namespace for
workloads, a ReplicaSet watch per namespace for Deployments (to tell the pods of the
current revision) and a StorageClass watch for PVCs. Every event runs the readiness
rules again for the objects it touches. A FAILED verdict ends the wait at once with
ObjectFailed, and so does an in-progress reason of `PERSISTENT_REASONS` (FailedCreate)
that lasts its number of seconds. The first deadline to pass raises ReadinessTimeout
listing every object still not ready. Setting the optional `cancel` event ends the wait
within half a second, also with ReadinessTimeout.

To keep memory low on large waves, each watched pod and workload is cut down to the
fields the readiness rules read as its event arrives (see readiness/projection.py), and
queued events keep only the newest state of each object.
NOTE: when events arrive faster than the rules run, the states in between are never
judged. So a pod that waited in CrashLoopBackOff, and was Running again by the time its
turn came, does not fail the wait.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from deployer.cluster import Cluster
from deployer.cluster.watch import LatestEvents
from deployer.engine.targets import Key, Target
from deployer.errors import ApiError, DeployerError, ObjectFailed, ReadinessTimeout
from deployer.model.events import ObjectEvent, ProgressSink
from deployer.model.status import State, Status
from deployer.readiness import PERSISTENT_REASONS, evaluate, needs_pods, pod_selector
from deployer.readiness.projection import pod_fields, replica_set_fields, workload_fields

log = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 0.5  # how soon a set `cancel` event ends the wait
WARNINGS_PER_OBJECT = 3  # latest distinct Warning events a timeout message shows per object
StreamKey = tuple[str, str, str | None]  # apiVersion, kind, namespace
Labels = Mapping[str, Any]
QueuedEvent = tuple[str, Any, str, dict[str, Any]]  # role, stream or error, type, object
LabelKey = tuple[str, str, str]  # namespace, label name, label value


class PodCache:
    """The pods of the watched namespaces, found by label in about constant time.

    Pods are listed in the order they were first seen, as a plain dict would list them,
    because some readiness messages name the first matching pod.
    """

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._by_label: dict[LabelKey, set[str]] = defaultdict(set)
        self._positions: dict[str, dict[str, int]] = defaultdict(dict)
        self._counter = itertools.count()

    def put(self, namespace: str, name: str, pod: dict[str, Any]) -> None:
        """Store a pod's newest state; a known pod keeps its place in the order."""
        previous = self.pods[namespace].get(name)
        if previous is None:
            self._positions[namespace][name] = next(self._counter)
        else:
            self._unindex(namespace, name, previous)
        self.pods[namespace][name] = pod
        for label in _label_items(namespace, _labels_of(pod)):
            self._by_label[label].add(name)

    def remove(self, namespace: str, name: str) -> None:
        pod = self.pods[namespace].pop(name, None)
        if pod is not None:
            del self._positions[namespace][name]
            self._unindex(namespace, name, pod)

    def _unindex(self, namespace: str, name: str, pod: dict[str, Any]) -> None:
        for label in _label_items(namespace, _labels_of(pod)):
            names = self._by_label[label]
            names.discard(name)
            if not names:
                del self._by_label[label]

    def matching(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        """Return the pods of `namespace` that carry every label of `selector`."""
        pods = self.pods[namespace]
        if not selector:
            return list(pods.values())
        # Start from the rarest label of the selector, then check the others.
        names = min(
            (self._by_label.get((namespace, key, value), set()) for key, value in selector.items()),
            key=len,
        )
        positions = self._positions[namespace]
        chosen = [name for name in names if _labels_match(selector, _labels_of(pods[name]))]
        return [pods[name] for name in sorted(chosen, key=positions.__getitem__)]


class WorkloadIndex:
    """The workload targets of a wave, found by the labels of a pod in about constant time.

    Each workload is filed under one label of its pod selector, or as matching every pod
    of its namespace when the selector has no labels. A workload without a selector is
    not filed, as no pod counts for it.
    """

    def __init__(self) -> None:
        self._by_label: dict[LabelKey, set[Key]] = defaultdict(set)
        self._match_all: dict[str, set[Key]] = defaultdict(set)
        self._filed: dict[Key, tuple[str, dict[str, str]]] = {}

    def file(self, target: Target) -> None:
        """File `target` under its current pod selector, replacing an older filing."""
        namespace = target.namespace or ""
        selector = pod_selector(target.live)
        filed = self._filed.get(target.key)
        if filed == (namespace, selector):
            return
        if filed is not None:
            self._unfile(target.key, *filed)
        if selector is None:
            return
        self._filed[target.key] = (namespace, selector)
        if selector:
            key, value = min(selector.items())
            self._by_label[(namespace, key, value)].add(target.key)
        else:
            self._match_all[namespace].add(target.key)

    def matching(self, namespace: str, labels: Labels) -> set[Key]:
        """Return the workloads in `namespace` whose pod selector matches `labels`."""
        found = set(self._match_all.get(namespace, ()))
        for label in _label_items(namespace, labels):
            found.update(self._by_label.get(label, ()))
        return {key for key in found if _labels_match(self._filed[key][1], labels)}

    def _unfile(self, target: Key, namespace: str, selector: dict[str, str]) -> None:
        del self._filed[target]
        if selector:
            key, value = min(selector.items())
            self._by_label[(namespace, key, value)].discard(target)
        else:
            self._match_all[namespace].discard(target)


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
        self.pods = PodCache()
        self.workloads = WorkloadIndex()
        self.storage_classes: dict[str, dict[str, Any]] = {}
        # ReplicaSets by the uid of the Deployment that owns them, then by name.
        self.replica_sets: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.deployments: dict[str, Key] = {}  # uid -> key of the Deployment targets
        # When each target's current PERSISTENT_REASONS reason was first seen.
        self.persisting_since: dict[Key, float] = {}
        self.events: LatestEvents[QueuedEvent] = LatestEvents()
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
            if needs_pods(target.info.kind, target.info.group):
                target.live = workload_fields(target.live)
                self.workloads.file(target)
                uid = (target.live.get("metadata") or {}).get("uid")
                if _is_deployment(target) and uid:
                    self.deployments[str(uid)] = target.key
            else:
                self._settle(pending, target, evaluate(target.live, storage_classes={}))
        return pending

    # Watches

    def _start_watches(self, pending: set[Key]) -> None:
        groups: dict[StreamKey, list[str]] = defaultdict(list)
        pod_namespaces: set[str] = set()
        replica_set_namespaces: set[str] = set()
        for key in pending:
            target = self.targets[key]
            groups[(target.info.api_version, target.info.kind, target.namespace)].append(
                target.name
            )
            if needs_pods(target.info.kind, target.info.group) and target.namespace:
                pod_namespaces.add(target.namespace)
                if _is_deployment(target):
                    replica_set_namespaces.add(target.namespace)
        for (api_version, kind, namespace), names in groups.items():
            selector = f"metadata.name={names[0]}" if len(names) == 1 else None
            self._spawn("object", (api_version, kind, namespace), selector)
        for namespace in sorted(pod_namespaces):
            self._spawn("pod", ("v1", "Pod", namespace), None)
        for namespace in sorted(replica_set_namespaces):
            self._spawn("replicaset", ("apps/v1", "ReplicaSet", namespace), None)
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
                meta = obj.get("metadata") or {}
                # managedFields is often half of an object and no readiness rule reads it.
                meta.pop("managedFields", None)
                if role == "pod":
                    obj = pod_fields(obj)
                elif role == "replicaset":
                    obj = replica_set_fields(obj)
                elif role == "object":
                    obj = workload_fields(obj)
                key = (role, stream, meta.get("namespace"), meta.get("name"))
                self.events.put(
                    (role, stream, event_type, obj), key, snapshot=event_type != "DELETED"
                )
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
        now = time.monotonic()
        persisting = self._persisting_deadline(pending)
        if persisting is not None and persisting[0] <= deadline:
            if persisting[0] <= now:
                raise self._persisted(persisting[1])
            deadline = persisting[0]  # wake up then to fail the object
        remaining = deadline - now
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
        elif role == "replicaset":
            self._on_replica_set(pending, event_type, obj)
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
            if needs_pods(target.info.kind, target.info.group):
                self.workloads.file(target)
            status = self._evaluate(target)
        self._settle(pending, target, status)

    def _on_pod(self, pending: set[Key], event_type: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if event_type == "DELETED":
            self.pods.remove(namespace, str(meta.get("name")))
        else:
            self.pods.put(namespace, str(meta.get("name")), pod)
        for key in self.workloads.matching(namespace, _labels_of(pod)):
            if key in pending:
                self._settle(pending, self.targets[key], self._evaluate(self.targets[key]))

    def _on_replica_set(self, pending: set[Key], event_type: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        for reference in meta.get("ownerReferences") or []:
            uid = str(reference.get("uid") or "")
            key = self.deployments.get(uid)
            if key is None:
                continue
            if event_type == "DELETED":
                self.replica_sets[uid].pop(name, None)
            else:
                self.replica_sets[uid][name] = obj
            if key in pending:
                self._settle(pending, self.targets[key], self._evaluate(self.targets[key]))

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
            pods = self.pods.matching(target.namespace, pod_selector(target.live) or {})
        replica_sets = None
        if _is_deployment(target):
            uid = str((target.live.get("metadata") or {}).get("uid") or "")
            replica_sets = list(self.replica_sets.get(uid, {}).values())
        return evaluate(
            target.live,
            pods=pods,
            storage_classes=self.storage_classes,
            replica_sets=replica_sets,
        )

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
        if status.state is not State.IN_PROGRESS or status.reason not in PERSISTENT_REASONS:
            self.persisting_since.pop(target.key, None)
        elif previous.reason != status.reason or target.key not in self.persisting_since:
            self.persisting_since[target.key] = time.monotonic()
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

    def _persisting_deadline(self, pending: set[Key]) -> tuple[float, Key] | None:
        """Return when the first lasting PERSISTENT_REASONS reason fails its object, and which."""
        found: tuple[float, Key] | None = None
        for key, since in self.persisting_since.items():
            if key not in pending:
                continue
            limit = since + PERSISTENT_REASONS[self.targets[key].status.reason]
            if found is None or limit < found[0]:
                found = (limit, key)
        return found

    def _persisted(self, key: Key) -> ObjectFailed:
        target = self.targets[key]
        status = target.status
        seconds = PERSISTENT_REASONS[status.reason]
        return ObjectFailed(
            f"{target.describe()} failed: {status.reason} for {seconds:.0f} s: {status.message}"
        )

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


def _is_deployment(target: Target) -> bool:
    return target.info.kind == "Deployment" and target.info.group == "apps"


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


def _labels_of(obj: Mapping[str, Any]) -> Labels:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _label_items(namespace: str, labels: Labels) -> list[LabelKey]:
    return [(namespace, str(key), str(value)) for key, value in labels.items()]
