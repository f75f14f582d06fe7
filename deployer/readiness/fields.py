"""Safe reads from live object dicts, which may lack any field while controllers catch up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def mapping(value: Any) -> Mapping[str, Any]:
    """Return `value` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Mapping[str, Any]]:
    """Return the mappings in a list field, skipping anything else."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def dig(obj: Mapping[str, Any], *keys: str) -> Any:
    """Return the value at `obj[k1][k2]...`, or None when any step is missing."""
    current: Any = obj
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def integer(value: Any, default: int = 0) -> int:
    """Read an integer field, treating a missing or non-integer value as `default`."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(obj.get("spec"))


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(obj.get("status"))


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(obj.get("metadata"))


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """Return the status condition of type `kind`, or None when the object has none."""
    for entry in items(status(obj).get("conditions")):
        if entry.get("type") == kind:
            return entry
    return None


def condition_is(obj: Mapping[str, Any], kind: str, value: str) -> bool:
    """Tell whether condition `kind` exists with status `value` ("True", "False", "Unknown")."""
    found = condition(obj, kind)
    return found is not None and str(found.get("status")) == value


def condition_text(entry: Mapping[str, Any] | None) -> str:
    """Format a condition as `Type=Status (Reason): message` for status messages."""
    if entry is None:
        return ""
    text = f"{entry.get('type')}={entry.get('status')}"
    if entry.get("reason"):
        text += f" ({entry.get('reason')})"
    if entry.get("message"):
        text += f": {entry.get('message')}"
    return text


def describe(obj: Mapping[str, Any]) -> str:
    """Name an object the way messages do: `Deployment shop/carts` or `Namespace shop`."""
    meta = metadata(obj)
    name = meta.get("name") or meta.get("generateName") or "<unnamed>"
    namespace = meta.get("namespace")
    kind = obj.get("kind") or "object"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def api_group(obj: Mapping[str, Any]) -> str:
    """Return the API group of an object: "apps" for `apps/v1`, "" for `v1`."""
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rpartition("/")[0]


def plural(count: int, noun: str) -> str:
    """Format `1 replica` / `2 replicas`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
