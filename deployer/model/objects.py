"""Object references and manifests with the place they came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ANNOTATION_PREFIX = "deployer.dev/"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identity of one Kubernetes object: group, kind, namespace (None if cluster-scoped), name."""

    group: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        if self.namespace:
            return f"{kind} {self.namespace}/{self.name}"
        return f"{kind} {self.name}"


@dataclass(frozen=True)
class Source:
    """Where a manifest came from: file, 1-based line of the document start, 0-based index."""

    file: str
    line: int = 0
    document: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def split_api_version(api_version: str) -> tuple[str, str]:
    """Split `apps/v1` into ("apps", "v1") and `v1` into ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass
class Manifest:
    """One rendered object to apply, as a plain dict, with its source."""

    body: dict[str, Any]
    source: Source | None = None
    # Filled by the planner: references this object must wait for (explicit or inferred).
    depends_on: tuple[ObjectRef, ...] = field(default_factory=tuple)

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def group(self) -> str:
        return split_api_version(self.api_version)[0]

    @property
    def version(self) -> str:
        return split_api_version(self.api_version)[1]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def generate_name(self) -> str:
        return str(self.metadata.get("generateName") or "")

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns else None

    @property
    def annotations(self) -> Mapping[str, str]:
        annotations = self.metadata.get("annotations")
        return annotations if isinstance(annotations, Mapping) else {}

    def annotation(self, key: str) -> str | None:
        """Return the value of the deployer annotation `deployer.dev/<key>`, if set."""
        value = self.annotations.get(ANNOTATION_PREFIX + key)
        return None if value is None else str(value)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.group, self.kind, self.namespace, self.name or self.generate_name)

    def describe(self) -> str:
        """Name the object and where it came from, for messages."""
        where = f" ({self.source})" if self.source else ""
        return f"{self.ref}{where}"
