"""An object that was written in this apply, as the waiter and the result see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deployer.cluster import ResourceInfo
from deployer.model.objects import Manifest, ObjectRef
from deployer.model.status import State, Status

Key = tuple[str, str, str | None, str]  # apiVersion, kind, namespace, name


@dataclass
class Target:
    """One applied object: its manifest, resource, stored name, live body and last status."""

    manifest: Manifest
    info: ResourceInfo
    name: str  # the stored name; differs from the manifest's for generateName objects
    namespace: str | None
    wave: int
    live: dict[str, Any]
    change: str  # "created", "configured", "unchanged" or "dry-run"
    timeout_seconds: float
    status: Status = field(default_factory=lambda: Status(State.APPLIED, "Applied"))

    @property
    def key(self) -> Key:
        return self.info.api_version, self.info.kind, self.namespace, self.name

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.info.group, self.info.kind, self.namespace, self.name)

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.info.kind} {where}"
