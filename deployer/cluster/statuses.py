"""Turn API server error responses into deployer's errors.

The API server rejects a failed request with a `Status` object whose `details.causes`
list names each offending field. These helpers read it without any I/O, so the mapping
from HTTP status to error class is unit-tested on plain dicts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from deployer.errors import ApiError, ConflictError, ImmutableFieldError

INVALID = "Invalid"  # the Kubernetes Status reason of a rejected object
MAX_MESSAGE_CHARS = 600  # longer server messages are cut so errors stay one screen

_QUOTED_VALUE = re.compile(r'(Invalid value: )"(?:[^"\\]|\\.)*"')
_MANAGER = re.compile(r'conflict with "([^"]*)"')
_MANAGER_CONFLICT = re.compile(r'conflict with "([^"]*)"(?: using [^:]*)?: (\S+)')


def parse_status(body: str | bytes | None) -> dict[str, Any]:
    """Decode a response body into a Status dict; an undecodable body becomes its message."""
    if not body:
        return {}
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        decoded = json.loads(text)
    except ValueError:
        return {"message": text}
    return decoded if isinstance(decoded, dict) else {"message": text}


def causes(status: Mapping[str, Any]) -> list[dict[str, str]]:
    """Return the `details.causes` entries, each with `field`, `reason` and `message` strings."""
    details = status.get("details")
    raw = details.get("causes") if isinstance(details, Mapping) else None
    if not isinstance(raw, list):
        return []
    return [
        {key: str(cause.get(key) or "") for key in ("field", "reason", "message")}
        for cause in raw
        if isinstance(cause, Mapping)
    ]


def trim(message: str, *, secret: bool = False) -> str:
    """Shorten a server message and, for Secrets, replace echoed values with `***`."""
    if secret:
        message = _QUOTED_VALUE.sub(r'\1"***"', message)
    if len(message) > MAX_MESSAGE_CHARS:
        return message[:MAX_MESSAGE_CHARS] + " ... (truncated)"
    return message


# Phrases in Kubernetes 1.37 validation messages for fields that cannot be updated in
# place. Most fields report "field is immutable"; Service clusterIPs report "may not
# change once set".
IMMUTABLE_PHRASES = ("immutable", "may not change once set")


def _says_immutable(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in IMMUTABLE_PHRASES)


def is_immutable(status: Mapping[str, Any]) -> bool:
    """Tell whether a 422 Status rejects a change to a field that cannot be updated."""
    texts = [str(status.get("message") or "")] + [c["message"] for c in causes(status)]
    return any(_says_immutable(text) for text in texts)


def immutable_paths(status: Mapping[str, Any]) -> list[str]:
    """List the field paths a 422 Status names as immutable, in the order given."""
    paths = [c["field"] for c in causes(status) if c["field"] and _says_immutable(c["message"])]
    if paths:
        return list(dict.fromkeys(paths))
    return [c["field"] for c in causes(status) if c["field"]]


# Phrases of Kubernetes 1.37 500 responses that reject the object itself: the server could
# not decode the body into its type (for example the quantity "1GB"). Sending the same body
# again fails the same way, so these are validation errors rather than transient failures.
UNDECODABLE_PHRASES = (
    "failed to convert",
    "unable to convert unstructured",
    "quantities must match",
    # Server-side apply answers an unknown field or a wrong type in the body this way.
    "failed to create typed patch object",
)


def is_undecodable(code: int, status: Mapping[str, Any]) -> bool:
    """Tell whether a 500 Status reports a body that cannot be converted to its type."""
    if code != 500:
        return False
    message = str(status.get("message") or "").lower()
    return any(phrase in message for phrase in UNDECODABLE_PHRASES)


def conflicts(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    """List (field path, current manager) pairs from a server-side apply 409 Status."""
    found: list[tuple[str, str]] = []
    for cause in causes(status):
        if cause["reason"] and cause["reason"] != "FieldManagerConflict":
            continue
        match = _MANAGER.search(cause["message"])
        manager = match.group(1) if match else cause["message"]
        found.append((cause["field"], manager))
    if not found:
        # Older servers put the conflicts only in the message text.
        for match in _MANAGER_CONFLICT.finditer(str(status.get("message") or "")):
            found.append((match.group(2), match.group(1)))
    return found


def to_error(
    code: int,
    body: str | bytes | None,
    *,
    subject: str,
    secret: bool = False,
    applying: bool = False,
) -> ApiError:
    """Build the deployer error for a failed request about the object named by `subject`."""
    status = parse_status(body)
    reason = str(status.get("reason") or "")
    message = trim(str(status.get("message") or f"HTTP {code}"), secret=secret)

    if code == 409 and applying and reason == "Conflict":
        lines = "\n".join(f"  {path} is owned by {manager}" for path, manager in conflicts(status))
        return ConflictError(
            f"{subject}: server-side apply conflicts with another field manager:\n{lines}\n"
            "Rerun with --force-conflicts to take these fields over, or remove them from the "
            "manifest.",
            status=code,
            reason=reason,
        )
    if code == 422 and is_immutable(status):
        paths = ", ".join(immutable_paths(status)) or "(path not given)"
        return ImmutableFieldError(
            f"{subject}: cannot change immutable field {paths}\n"
            'Delete and recreate the object, or set the annotation deployer.dev/recreate: "true" '
            "to let deployer do it.",
            status=code,
            reason=reason,
        )
    if is_undecodable(code, status):
        # Reason "Invalid", as for a 422, so that callers treat it as a rejected object.
        return ApiError(f"{subject}: {message}", status=code, reason=INVALID)
    return ApiError(f"{subject}: {message}", status=code, reason=reason)


def is_namespace_not_found(code: int, body: str | bytes | None) -> str | None:
    """Return the namespace name when a 404 reports that the namespace does not exist."""
    if code != 404:
        return None
    details = parse_status(body).get("details")
    if isinstance(details, Mapping) and details.get("kind") == "namespaces":
        return str(details.get("name") or "") or None
    return None
