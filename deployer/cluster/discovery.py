"""Resource discovery: which plural name and scope each (apiVersion, kind) has on a server.

Reads aggregated discovery (`/api` and `/apis` with the `apidiscovery.k8s.io/v2`
media type, two requests for the whole server). Servers without it get the legacy walk
over every group version. Parsing is pure so it is unit-tested on plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@dataclass(frozen=True)
class ResourceInfo:
    """One REST resource: group, version, kind, plural name and whether it is namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """Build the URL path of the collection, or of one object when `name` is given."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


ResourceMap = dict[tuple[str, str], ResourceInfo]  # (apiVersion, kind) -> resource


def parse_aggregated(document: Mapping[str, Any]) -> ResourceMap | None:
    """Read an APIGroupDiscoveryList; None when the server sent another document kind."""
    if document.get("kind") != "APIGroupDiscoveryList":
        return None
    found: ResourceMap = {}
    for group_doc in document.get("items") or []:
        group = str((group_doc.get("metadata") or {}).get("name") or "")
        for version_doc in group_doc.get("versions") or []:
            version = str(version_doc.get("version") or "")
            for resource in version_doc.get("resources") or []:
                kind = str((resource.get("responseKind") or {}).get("kind") or "")
                plural = str(resource.get("resource") or "")
                if not kind or not plural:
                    continue
                info = ResourceInfo(
                    group, version, kind, plural, resource.get("scope") == "Namespaced"
                )
                found[(info.api_version, kind)] = info
    return found


def parse_resource_list(document: Mapping[str, Any]) -> ResourceMap:
    """Read a legacy APIResourceList of one group version, skipping subresources."""
    api_version = str(document.get("groupVersion") or "")
    group, _, version = api_version.rpartition("/")
    found: ResourceMap = {}
    for resource in document.get("resources") or []:
        plural = str(resource.get("name") or "")
        if "/" in plural:
            continue
        kind = str(resource.get("kind") or "")
        found[(api_version, kind)] = ResourceInfo(
            group, version, kind, plural, bool(resource.get("namespaced"))
        )
    return found


def legacy_group_versions(core: Mapping[str, Any], groups: Mapping[str, Any]) -> Iterable[str]:
    """List every group version a legacy `/api` + `/apis` pair advertises."""
    yield from (str(v) for v in core.get("versions") or [])
    for group in groups.get("groups") or []:
        for version in group.get("versions") or []:
            yield str(version.get("groupVersion"))
