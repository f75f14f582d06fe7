"""In-memory stand-ins for the executor and the record store, for tests of the scheduling logic.

`MemoryExecutor` ends each pod from the pod's annotations, as the local control plane's
simulated kubelet does. `deployer.dev/sim-output` becomes the termination message,
`deployer.dev/sim-exit-code` (non-zero) fails the pod with that code, `deployer.dev/sim: fail`
fails it with code 1 and `deployer.dev/sim: imagepull` leaves it unable to start.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.workflow.executor import ResourceRequest, ResourceResult
from deployer.engine.workflow.pods import MAIN_CONTAINER, PodResult, pod_outcome
from deployer.engine.workflow.record import encode_record, run_exists
from deployer.errors import WorkflowError
from deployer.model.run import RunRecord

SIM = "deployer.dev/sim"
SIM_OUTPUT = "deployer.dev/sim-output"
SIM_EXIT_CODE = "deployer.dev/sim-exit-code"


def simulated_status(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Return the status a finished pod would get from its simulation annotations."""
    annotations = pod["metadata"].get("annotations") or {}
    mode = annotations.get(SIM, "")
    if mode == "imagepull":
        waiting = {"reason": "ImagePullBackOff", "message": "simulated image pull failure"}
        return {
            "phase": "Pending",
            "containerStatuses": [{"name": MAIN_CONTAINER, "state": {"waiting": waiting}}],
        }
    code = int(annotations.get(SIM_EXIT_CODE) or (1 if mode == "fail" else 0))
    terminated = {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "message": annotations.get(SIM_OUTPUT, ""),
    }
    return {
        "phase": "Succeeded" if code == 0 else "Failed",
        "containerStatuses": [{"name": MAIN_CONTAINER, "state": {"terminated": terminated}}],
    }


class MemoryExecutor:
    """Ends pods at once (or after `pod_seconds`) from their annotations; stores every pod."""

    def __init__(self, *, pod_seconds: float = 0.0) -> None:
        self.pod_seconds = pod_seconds
        self.pods: list[dict[str, Any]] = []
        self.resources: list[ResourceRequest] = []
        self.kinds: list[tuple[str, Mapping[str, Any]]] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    @property
    def cluster(self) -> Any:
        return None

    def run_pod(
        self, pod: dict[str, Any], *, cancel: threading.Event, deadline: float | None
    ) -> PodResult:
        with self.lock:
            self.pods.append(copy.deepcopy(pod))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            end = time.monotonic() + self.pod_seconds
            while time.monotonic() < end:
                if cancel.wait(0.01):
                    return PodResult(
                        "Failed", message="pod was deleted because the run was stopped"
                    )
                if deadline is not None and time.monotonic() >= deadline:
                    return PodResult("Failed", message="pod was active longer than the deadline")
            outcome = pod_outcome({**pod, "status": simulated_status(pod)})
            assert outcome is not None
            return outcome
        finally:
            with self.lock:
                self.running -= 1

    def run_resource(
        self, request: ResourceRequest, *, cancel: threading.Event, deadline: float | None
    ) -> ResourceResult:
        with self.lock:
            self.resources.append(request)
        objects = []
        for body in request.manifests:
            obj = copy.deepcopy(body)
            obj.setdefault("metadata", {}).setdefault("namespace", request.namespace)
            objects.append(obj)
        return ResourceResult("Succeeded", "", objects)

    def run_kind(self, kind: str, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        with self.lock:
            self.kinds.append((kind, spec))
        return TemplateResult("Succeeded")

    def owner_anchor(self, run: str, namespace: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": f"deployer-run-{run}",
            "uid": "memory",
        }

    def close(self) -> None:
        pass

    def pods_named(self, fragment: str) -> list[dict[str, Any]]:
        """Return the pods whose node name contains `fragment`."""
        return [
            p
            for p in self.pods
            if fragment in p["metadata"]["annotations"]["deployer.dev/node-name"]
        ]


class MemoryRecordStore:
    """Keeps run records and control requests in dicts."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.controls: dict[str, dict[str, str]] = {}
        self.saves = 0
        self.changed = threading.Condition()

    def create(self, record_data: dict[str, Any]) -> None:
        # Like a record ConfigMap created with POST: a taken name raises RunExists.
        with self.changed:
            existing = self.records.get(record_data["name"])
            if existing is not None:
                raise run_exists(record_data["name"], existing.get("phase"))
            self._store(record_data)

    def save(self, record_data: dict[str, Any]) -> None:
        with self.changed:
            self._store(record_data)

    def _store(self, record_data: dict[str, Any]) -> None:
        # The same size limit as a record ConfigMap: RecordTooLarge above it.
        encode_record(record_data)
        self.records[record_data["name"]] = copy.deepcopy(record_data)
        self.saves += 1

    def load(self, name: str) -> RunRecord:
        if name not in self.records:
            raise WorkflowError(f"run {name} not found")
        return RunRecord.from_dict(self.records[name])

    def list_runs(self) -> list[RunRecord]:
        return [RunRecord.from_dict(data) for data in self.records.values()]

    def delete(self, name: str) -> None:
        self.records.pop(name, None)

    def request(self, name: str, control: str, value: str) -> None:
        with self.changed:
            self.controls.setdefault(name, {})[control] = value
            self.changed.notify_all()

    def clear(self, name: str, control: str) -> None:
        with self.changed:
            self.controls.get(name, {}).pop(control, None)
            self.changed.notify_all()

    def watch_controls(self, name: str, stop: threading.Event) -> Iterator[dict[str, str]]:
        seen: dict[str, str] = {}
        while not stop.is_set():
            with self.changed:
                current = dict(self.controls.get(name, {}))
                if current == seen:
                    self.changed.wait(0.05)
                    continue
            seen = current
            yield current

    def save_secrets(self, name: str, values: Mapping[str, str]) -> None:
        self.secrets[name] = dict(values)

    def load_secrets(self, name: str) -> dict[str, str]:
        return dict(self.secrets.get(name, {}))
