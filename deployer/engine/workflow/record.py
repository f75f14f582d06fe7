"""Run records kept in the cluster, the coalescing writer and secret masking.

Each run is one ConfigMap in namespace `deployer-runs` (created on first use), named after the
run and labelled `deployer.dev/record=run`. Its `record.json` key contains the RunRecord as
JSON, or, for records over 256 KiB, `binaryData` key `record.json.gz` contains it compressed. The
CLI controls a running run by annotating that ConfigMap (`deployer.dev/resume`,
`deployer.dev/stop`, `deployer.dev/terminate`); the running process watches it.

Values that must not be shown are masked as `***` in everything written to the record:
parameters whose name looks secret (`SECRET_NAME`) and values read from a Secret object. The
unmasked values of masked workflow parameters go into a Secret of the same name as the run,
so `deployer retry` can pass them again.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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
MASK = "***"

# Parameter names that are treated as secret: any name containing one of these words.
SECRET_NAME = re.compile(r"(password|passwd|secret|token|apikey|api-key|api_key|credential)", re.I)

# Minimum time between two record writes of one run, in seconds.
WRITE_INTERVAL_SECONDS = 0.5


def looks_secret(name: str) -> bool:
    """Return True when a parameter name suggests its value is a secret."""
    return bool(SECRET_NAME.search(name))


# A masked value must not continue a longer token on either side: a letter, digit, `_` or
# `-`, or a `.` between two of those. So the secret `admin` stays visible inside the object
# name `grafana-admin` or `admin.conf`, but is masked in `pw=admin`, `"admin"` or `admin.`.
# NOTE: a secret written glued to other token characters (`xadmin`, `admin_1`, `admin.Next`)
# therefore stays visible in the record.
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_-]")
_TOKEN_BEFORE = r"(?<![A-Za-z0-9_-])(?<![A-Za-z0-9_]\.)"
_TOKEN_AFTER = r"(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9_])"


def _token_pattern(value: str) -> str:
    """Return the regex of `value` as a whole token.

    An edge of the value that is itself no token character (as in `p@ss!`) needs no boundary.
    """
    pattern = re.escape(value)
    if _TOKEN_CHAR.fullmatch(value[0]):
        pattern = _TOKEN_BEFORE + pattern
    if _TOKEN_CHAR.fullmatch(value[-1]):
        pattern += _TOKEN_AFTER
    return pattern


class Masker:
    """Replaces registered secret values in text; shared by one run and its record writer.

    A value is replaced where it is a whole token (see `_token_pattern`), not where it is
    part of a longer word or name, so masking does not garble names that contain a secret.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        # Very short values would mask unrelated text, such as "1" in "attempt 1".
        if len(value) < 3:
            return
        # A value inside JSON text (an output that is a JSON document) appears escaped.
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        with self._lock:
            self._values.update({value, escaped})
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # Longest first, so a value that contains another one is masked whole.
                values = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(_token_pattern(value) for value in values))
            return self._pattern

    def mask(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is None:
            return text
        return pattern.sub(MASK, text)

    def mask_data(self, data: Any) -> Any:
        """Return a copy of a JSON-like value with every string masked."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, Mapping):
            return {key: self.mask_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.mask_data(value) for value in data]
        return data


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


# Length to which node messages are cut in a record that was too large to store.
SHRUNK_MESSAGE_CHARS = 200


def shrink_record(record_data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a record without node inputs, outputs and results, messages cut short.

    The runner stores this form once the full record is too large, so that `deployer get`
    still shows every node with its phase. The workflow and template documents stay, because
    `deployer retry` rebuilds the run from them.
    """
    # NOTE: a retry of a shrunk run reuses its Succeeded nodes without their outputs, so a
    # later step that reads one of them fails with an undefined variable.
    nodes = {}
    for node_id, node in (record_data.get("nodes") or {}).items():
        nodes[node_id] = {
            **node,
            "inputs": {},
            "outputs": {},
            "result": None,
            "message": str(node.get("message") or "")[:SHRUNK_MESSAGE_CHARS],
        }
    return {**record_data, "nodes": nodes}


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


# A run stops once no write of its record has succeeded for this many seconds, because the
# API server is unreachable or rejects the record. Other clients count such a run as
# abandoned after `liveness.STALE_SECONDS` without a heartbeat anyway.
LOST_AFTER_SECONDS = 60.0
# Attempts of one record write; each attempt is one request with the cluster client's retries.
WRITE_ATTEMPTS = 3


class RecordWriter:
    """Writer of one run record: on change, at most once per `interval` seconds, plus a final write.

    `snapshot` returns the record as a dict and must copy it under the runner's lock, as
    `NodeBook.snapshot` does. The writer masks it before each write. When the record is too
    large to store, the writer sets `too_large` to the reason, calls `on_too_large` with it
    once, and from then on stores the record as `shrink_record` returns it. When no write has
    succeeded for `lost_after` seconds, it sets `lost` to the reason and calls `on_lost` with
    it once. `failure` is the error of the latest write, or None when it succeeded.
    """

    def __init__(
        self,
        store: RecordStore,
        snapshot: Callable[[], dict[str, Any]],
        masker: Masker,
        *,
        interval: float = WRITE_INTERVAL_SECONDS,
        heartbeat: float | None = None,
        on_too_large: Callable[[str], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
        lost_after: float = LOST_AFTER_SECONDS,
    ) -> None:
        self.store = store
        self.snapshot = snapshot
        self.masker = masker
        self.interval = interval
        self.heartbeat = heartbeat  # seconds between writes when nothing changes; None: no limit
        self.on_too_large = on_too_large
        self.on_lost = on_lost
        self.lost_after = lost_after
        self.too_large: str | None = None
        self.lost: str | None = None
        self.failure: str | None = None
        self.writes = 0
        self._saved_at = time.monotonic()
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="record-writer", daemon=True)

    def begin(self, *, new: bool) -> None:
        """Store the run's first record, before anything of the run starts.

        A new run's record is created, never replaced, so a run whose name is taken raises
        RunExists; a retried run's record is replaced. Raises WorkflowError when the record
        cannot be stored, so that no run goes on unrecorded.
        """
        data = self.masker.mask_data(self.snapshot())
        try:
            if new:
                self.store.create(data)
            else:
                self.store.save(data)
        except ApiError as failed:
            raise WorkflowError(
                f"run {data['name']} did not start: storing its record failed: {failed}"
            ) from None
        self.writes += 1
        self._saved_at = time.monotonic()

    def start(self) -> None:
        """Start writing the record in the background as it changes."""
        self._thread.start()

    def changed(self) -> None:
        self._dirty.set()

    def close(self) -> None:
        """Stop the writer thread and write the final state (one attempt once `lost`)."""
        self._closed.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join()
        self.write(attempts=1 if self.lost else WRITE_ATTEMPTS)

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait(self.heartbeat)
            if self._closed.is_set():
                return
            self._dirty.clear()
            # The thread must outlive a failed write, so that later changes are written.
            try:
                self.write()
            except Exception:
                log.exception("writing the run record failed")
            time.sleep(self.interval)

    def write(self, *, attempts: int = WRITE_ATTEMPTS) -> None:
        """Store the current record now, shrunk once it proved too large to store whole."""
        data = self.masker.mask_data(self.snapshot())
        if self.too_large is not None:
            data = shrink_record(data)
        try:
            self._save(data, attempts)
        except RecordTooLarge as failure:
            if self.too_large is not None:
                log.error("%s; even without node inputs and outputs it is not stored", failure)
                return
            self.too_large = str(failure)
            log.error("%s; storing it without node inputs and outputs from now on", failure)
            if self.on_too_large is not None:
                self.on_too_large(self.too_large)
            self.write(attempts=attempts)

    def _save(self, data: dict[str, Any], attempts: int) -> None:
        name = data["name"]
        for attempt in range(1, attempts + 1):
            try:
                self.store.save(data)
            except ApiError as failed:
                self.failure = str(failed)
                log.warning(
                    "writing run record %s failed (attempt %d/%d): %s",
                    name,
                    attempt,
                    attempts,
                    failed,
                )
                if self._check_lost(name):
                    return  # the final write after the run stopped is the one left to try
                if attempt < attempts:
                    time.sleep(0.5 * attempt)
                continue
            self.writes += 1
            self.failure = None
            self._saved_at = time.monotonic()
            return

    def _check_lost(self, name: str) -> bool:
        """Set `lost` once no write has succeeded for `lost_after` seconds; return True then."""
        silent = time.monotonic() - self._saved_at
        if self.lost is None and silent >= self.lost_after:
            self.lost = f"no write of its record succeeded for {silent:.0f} s ({self.failure})"
            log.error("run %s: %s; stopping the run", name, self.lost)
            if self.on_lost is not None:
                self.on_lost(self.lost)
        return self.lost is not None
