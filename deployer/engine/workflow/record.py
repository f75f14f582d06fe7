"""Run records kept in the cluster: their ConfigMap format, their storage and run controls.

Each run is one ConfigMap in namespace `deployer-runs` (created on first use), named after the
run and labelled `deployer.dev/record=run`. Its `record.json` key contains the RunRecord as
JSON, or, for records over 256 KiB, `binaryData` key `record.json.gz` contains it compressed. The
CLI controls a running run by annotating that ConfigMap (`deployer.dev/resume`,
`deployer.dev/stop`, `deployer.dev/terminate`); the running process watches it.

The unmasked values of masked workflow parameters (see `deployer.engine.workflow.masking`)
go into a Secret of the same name as the run, so `deployer retry` can pass them again.
`deployer.engine.workflow.record_writer` stores a running run's record as it changes.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from deployer.errors import ApiError, WorkflowError
from deployer.model.run import RunRecord

log = logging.getLogger(__name__)

RECORD_NAMESPACE = "deployer-runs"
RECORD_LABEL = "deployer.dev/record"
RECORD_KEY = "record.json"
RECORD_KEY_GZIP = "record.json.gz"
# Records above this many bytes of JSON are stored gzip-compressed in `binaryData`.
COMPRESS_ABOVE_BYTES = 256 * 1024
# The API server rejects a ConfigMap whose data exceeds 1 MiB; base64 text overstates the size.
MAX_RECORD_BYTES = 1024 * 1024
CONTROL_PREFIX = "deployer.dev/"
CONTROLS = ("resume", "stop", "terminate")


class RecordStore(Protocol):
    """Storage of run records: the cluster in use, or an in-memory dict in unit tests."""

    def create(self, record_data: dict[str, Any]) -> None: ...

    def save(self, record_data: dict[str, Any]) -> None: ...

    def load(self, name: str) -> RunRecord: ...

    def list_runs(self) -> list[RunRecord]: ...

    def delete(self, name: str) -> None: ...

    def request(self, name: str, control: str, value: str) -> None: ...

    def clear(self, name: str, control: str) -> None: ...

    def watch_controls(self, name: str, stop: threading.Event) -> Iterator[dict[str, str]]: ...

    def save_secrets(self, name: str, values: Mapping[str, str]) -> None: ...

    def load_secrets(self, name: str) -> dict[str, str]: ...


class ClusterRecordStore:
    """Run records as ConfigMaps in `deployer-runs`, through `deployer.cluster.client.Cluster`."""

    def __init__(self, cluster: Any, *, namespace: str = RECORD_NAMESPACE) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self._namespace_ready = False

    def _ensure_namespace(self) -> None:
        if self._namespace_ready:
            return
        if self.cluster.get("v1", "Namespace", self.namespace) is None:
            self.cluster.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
            )
        self._namespace_ready = True

    def _body(self, record_data: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": record_data["name"],
                "namespace": self.namespace,
                "labels": {RECORD_LABEL: "run", "deployer.dev/phase": record_data["phase"]},
            },
        }
        body.update(encode_record(record_data))
        return body

    def create(self, record_data: dict[str, Any]) -> None:
        """Store the first record of a new run; raise RunExists when that name is taken.

        The ConfigMap is created with POST, which the API server rejects when one of that
        name exists, so of two submits of one name racing each other only one starts.
        """
        self._ensure_namespace()
        try:
            self.cluster.create(self._body(record_data))
        except ApiError as failed:
            if failed.status != 409:
                raise
            raise run_exists(record_data["name"], self._phase_of(record_data["name"])) from None

    def _phase_of(self, name: str) -> str | None:
        try:
            return self.load(name).phase
        except (ApiError, WorkflowError):
            return None

    def check_new(self, name: str) -> None:
        """Raise RunExists when a run of this name is recorded already."""
        if self.cluster.get("v1", "ConfigMap", name, self.namespace) is not None:
            raise run_exists(name, self._phase_of(name))

    def save(self, record_data: dict[str, Any]) -> None:
        self._ensure_namespace()
        self.cluster.apply(self._body(record_data), force=True)

    def _get(self, name: str) -> dict[str, Any]:
        found = self.cluster.get("v1", "ConfigMap", name, self.namespace)
        if found is None:
            raise WorkflowError(
                f"run {name} not found in namespace {self.namespace}; "
                "list the runs with `deployer list`"
            )
        return dict(found)

    def load(self, name: str) -> RunRecord:
        return record_from_configmap(self._get(name))

    def list_runs(self) -> list[RunRecord]:
        items, _ = self.cluster.list(
            "v1", "ConfigMap", self.namespace, label_selector=f"{RECORD_LABEL}=run"
        )
        runs = []
        for item in items:
            try:
                runs.append(record_from_configmap(item))
            except WorkflowError as bad:
                log.warning("skipping unreadable run record: %s", bad)
        return runs

    def delete(self, name: str) -> None:
        self._get(name)
        self.cluster.delete("v1", "ConfigMap", name, self.namespace)
        self.cluster.delete("v1", "Secret", name, self.namespace)

    def request(self, name: str, control: str, value: str) -> None:
        self._get(name)
        patch = {"metadata": {"annotations": {CONTROL_PREFIX + control: value}}}
        self.cluster.patch("v1", "ConfigMap", name, self.namespace, patch)

    def clear(self, name: str, control: str) -> None:
        patch = {"metadata": {"annotations": {CONTROL_PREFIX + control: None}}}
        self.cluster.patch("v1", "ConfigMap", name, self.namespace, patch)

    def watch_controls(self, name: str, stop: threading.Event) -> Iterator[dict[str, str]]:
        while not stop.is_set():
            try:
                events = self.cluster.watch(
                    "v1",
                    "ConfigMap",
                    self.namespace,
                    field_selector=f"metadata.name={name}",
                    stop=stop,
                )
                for kind, obj in events:
                    if kind in ("ADDED", "MODIFIED"):
                        yield controls_of(obj)
            except ApiError as failed:
                log.warning("watch of run %s failed: %s; watching again in 1 s", name, failed)
                stop.wait(1.0)

    def save_secrets(self, name: str, values: Mapping[str, str]) -> None:
        if not values:
            return
        self._ensure_namespace()
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {RECORD_LABEL: "run"},
            },
            "type": "Opaque",
            "data": {key: base64.b64encode(v.encode()).decode() for key, v in values.items()},
        }
        self.cluster.apply(body, force=True)

    def load_secrets(self, name: str) -> dict[str, str]:
        found = self.cluster.get("v1", "Secret", name, self.namespace)
        if not found:
            return {}
        data = found.get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}


class RunExists(WorkflowError):
    """A run of the same name is recorded already; a new run never replaces it."""


def run_exists(name: str, phase: str | None = None) -> RunExists:
    """Return the error for a new run whose name an existing run already uses."""
    state = f" ({phase})" if phase else ""
    return RunExists(
        f"run {name} already exists{state}; a new run needs a new name: delete the old run "
        f"with `deployer delete {name}`, or use metadata.generateName in place of "
        "metadata.name so that every submit gets a name of its own"
    )


def controls_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """Return the control annotations (resume, stop, terminate) set on a record ConfigMap."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    found = {}
    for control in CONTROLS:
        value = annotations.get(CONTROL_PREFIX + control)
        if value is not None:
            found[control] = str(value)
    return found


class RecordTooLarge(WorkflowError):
    """A run record that stays over the size a ConfigMap can store when compressed."""


def encode_record(record_data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ConfigMap `data` (JSON) or, for large records, `binaryData` (gzip) field.

    Raises RecordTooLarge when even the compressed record exceeds MAX_RECORD_BYTES.
    """
    text = json.dumps(record_data, separators=(",", ":"))
    if len(text) <= COMPRESS_ABOVE_BYTES:
        return {"data": {RECORD_KEY: text}}
    packed = base64.b64encode(gzip.compress(text.encode())).decode()
    if len(packed) > MAX_RECORD_BYTES:
        raise RecordTooLarge(
            f"run record {record_data['name']} is {len(packed)} bytes even compressed, over "
            f"the {MAX_RECORD_BYTES} bytes a ConfigMap can store; split the workflow"
        )
    return {"binaryData": {RECORD_KEY_GZIP: packed}}


def record_from_configmap(obj: Mapping[str, Any]) -> RunRecord:
    """Decode the RunRecord stored in a record ConfigMap, plain or compressed."""
    name = (obj.get("metadata") or {}).get("name", "?")
    text = (obj.get("data") or {}).get(RECORD_KEY)
    packed = (obj.get("binaryData") or {}).get(RECORD_KEY_GZIP)
    if not text and not packed:
        raise WorkflowError(f"run record ConfigMap {name} has no {RECORD_KEY}")
    try:
        if not text:
            text = gzip.decompress(base64.b64decode(str(packed))).decode()
        return RunRecord.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, OSError) as bad:
        raise WorkflowError(f"run record ConfigMap {name} is unreadable: {bad}") from bad
