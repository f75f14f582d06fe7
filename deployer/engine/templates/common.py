"""Pieces every deployer template kind shares: reading a spec, timeouts, results, names."""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.timeouts import parse_duration
from deployer.errors import (
    DeployerError,
    InputError,
    PlanError,
    WorkflowError,
)
from deployer.model.objects import ObjectRef

log = logging.getLogger(__name__)

_GROUP_INDEX = re.compile(r"\[\d+\]")
MAX_INVENTORY_NAME = 200  # the ConfigMap name adds a prefix and must stay under 253


class Spec:
    """A template kind's spec mapping, read with type checks that name the field."""

    def __init__(self, kind: str, body: Mapping[str, Any], known: Iterable[str]) -> None:
        self.kind = kind
        self.body = body
        known_fields = sorted(set(known))
        unknown = sorted(str(key) for key in body if key not in known_fields)
        if unknown:
            named = []
            for key in unknown:
                close = difflib.get_close_matches(key, known_fields, n=1)
                named.append(f"{kind}.{key}" + (f" (did you mean {close[0]}?)" if close else ""))
            raise WorkflowError(
                f"not supported: {', '.join(named)}; supported fields are {', '.join(known_fields)}"
            )

    def string(self, key: str, *, default: str | None = None) -> str | None:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, bool | dict | list):
            raise WorkflowError(f"{self.kind}.{key} must be a string, got {value!r}")
        return str(value)

    def required(self, key: str) -> str:
        value = self.string(key)
        if not value:
            raise WorkflowError(f"{self.kind} template: field {key} is missing")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.body.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise WorkflowError(f"{self.kind}.{key} must be a list of strings, got {value!r}")
        return list(value)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.body.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise WorkflowError(f"{self.kind}.{key} must be a mapping, got {value!r}")
        return dict(value)

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise WorkflowError(f"{self.kind}.{key} must be true or false, got {value!r}")

    def timeout(self, ctx: TemplateContext, *, default: float) -> float:
        """Return the timeout in seconds: the spec's `timeout`, else `default`.

        The node's remaining deadline (`ctx.timeout_seconds`, from the template's `timeout`
        or `activeDeadlineSeconds`) caps either one.
        """
        text = self.string("timeout")
        seconds = parse_duration(text, what=f"{self.kind}.timeout") if text else default
        if ctx.timeout_seconds is not None:
            return min(seconds, ctx.timeout_seconds)
        return seconds


def inventory_name(ctx: TemplateContext, explicit: str | None) -> str:
    """Return the inventory name for a step: the spec's `inventory`, else a derived one.

    The derived name is `<workflow>.<step path>`: the workflow name (run name when the
    runner gives none) and the node's display path without the run-name prefix. It is
    lowered to the characters an object name allows, and names longer than
    MAX_INVENTORY_NAME are cut and given a hash of the full name, so they stay unique.
    """
    raw = explicit or f"{ctx.workflow_name or ctx.run_name}.{step_path(ctx)}"
    cleaned = _object_name(raw)
    if len(cleaned) > MAX_INVENTORY_NAME:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
        cleaned = f"{cleaned[: MAX_INVENTORY_NAME - 11].rstrip('-.')}-{digest}"
    if not cleaned:
        raise WorkflowError(f"cannot derive an inventory name from {raw!r}; set `inventory:`")
    return cleaned


def step_path(ctx: TemplateContext) -> str:
    """Return the node's display path without the run name and step-group indexes.

    `sock-shop-x7k2p[1].databases` becomes `databases`, and a loop child keeps its item
    (`deploy(0:carts)`), so the path stays the same when groups are added before it.
    """
    path = ctx.node_name.removeprefix(ctx.run_name)
    return _GROUP_INDEX.sub("", path).lstrip(".")


def _object_name(raw: str) -> str:
    """Lower `raw` to a DNS subdomain: dot-separated labels of `a-z`, `0-9` and `-`."""
    labels = (re.sub(r"[^a-z0-9-]+", "-", part).strip("-") for part in raw.lower().split("."))
    return ".".join(label for label in labels if label)


def phase_for(error: DeployerError) -> str:
    """Return the Argo node phase for an error: Error for bad input, Failed otherwise.

    Input, plan and workflow errors fail the same way on every retry, so they are
    reported as Error, which a `retryPolicy` can tell apart from a Failed object.
    """
    if isinstance(error, InputError | PlanError | WorkflowError):
        return "Error"
    return "Failed"


def guarded(
    kind: str, ctx: TemplateContext, action: Callable[[], TemplateResult]
) -> TemplateResult:
    """Run `action`, turning any deployer error into a finished, non-successful result."""
    try:
        return action()
    except DeployerError as error:
        log.info("%s step %s failed: %s", kind, ctx.node_name, error)
        return TemplateResult(phase=phase_for(error), message=str(error))


def describe_refs(refs: Sequence[ObjectRef]) -> str:
    """Summarise object references for a result message: `3 objects (Deployment ns/a, ...)`."""
    shown = ", ".join(str(ref) for ref in refs[:5])
    more = f", and {len(refs) - 5} more" if len(refs) > 5 else ""
    return f"{len(refs)} object(s) ({shown}{more})" if refs else "0 objects"
