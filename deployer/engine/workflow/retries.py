"""retryStrategy: run a template again after a failure, with backoff, as Argo does.

The Retry node `N` gets one child per attempt, `N(0)`, `N(1)`, ...; `{{retries}}` is the
attempt number inside the template. Policies: Always (Failed or Error), OnFailure (Failed,
the default), OnError (Error) and OnTransientError (Error whose message looks like network or
API server trouble).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from deployer.engine.timeouts import parse_duration
from deployer.engine.workflow import scope
from deployer.engine.workflow.calls import NODE_TYPES, Call, backoff_delay
from deployer.errors import WorkflowError
from deployer.model import run as runmodel
from deployer.model.run import NodeRecord

if TYPE_CHECKING:
    from deployer.engine.workflow.runner import Runner

# Messages of errors that OnTransientError retries: network trouble and API server overload.
TRANSIENT_MARKERS = (
    "connection reset",
    "connection refused",
    "timed out",
    "too many requests",
    "service unavailable",
    "etcdserver",
    "tls handshake",
)


def run_with_retries(runner: Runner, node: NodeRecord, call: Call, inputs: dict[str, str]) -> None:
    strategy = call.template.retry_strategy
    assert strategy is not None
    runner.book.start(node, inputs=inputs)
    field = f"template {call.template.name} retryStrategy"
    try:
        limit = _limit(runner, strategy.limit, field)
    except WorkflowError as bad:
        runner.book.finish(node, "Error", str(bad))
        return
    max_seconds = None
    if strategy.backoff is not None and strategy.backoff.max_duration:
        max_seconds = parse_duration(strategy.backoff.max_duration, what=field)
    started = time.monotonic()
    attempt = 0
    while True:
        child = runner.book.create(
            name=f"{call.name}({attempt})",
            display=f"{call.display}({attempt})",
            type=NODE_TYPES[call.template.kind],
            template=call.template.name,
            parent=node.id,
        )
        runner.attempt(child, call, inputs, retries=attempt)
        if child.phase == "Succeeded" or runner.cancel.is_set():
            break
        if not should_retry(strategy.retry_policy, child) or attempt == limit:
            break
        try:
            allowed = not strategy.expression or expression_allows(
                runner, strategy.expression, child
            )
        except WorkflowError as bad:
            runner.book.finish(node, "Error", str(bad))
            return
        if not allowed:
            break
        delay = backoff_delay(strategy.backoff, attempt, what=field)
        if max_seconds is not None and time.monotonic() - started + delay > max_seconds:
            break
        if runner.cancel.wait(delay):
            break
        attempt += 1
    runner.book.finish(
        node,
        child.phase,
        child.message,
        outputs=dict(child.outputs),
        result=child.result,
        exit_code=child.exit_code,
    )


def _limit(runner: Runner, limit: int | str | None, field: str) -> int | None:
    if limit in (None, ""):
        return None
    text = runner.substitute(str(limit), runner.globals)
    try:
        return int(text)
    except ValueError:
        raise WorkflowError(f"{field}: limit must be an integer, got {text!r}") from None


def expression_allows(runner: Runner, expression: str, child: NodeRecord) -> bool:
    """Evaluate `retryStrategy.expression` over `lastRetry.exitCode/status/duration/message`."""
    values = dict(runner.globals)
    values["lastRetry.exitCode"] = "" if child.exit_code is None else str(child.exit_code)
    values["lastRetry.status"] = child.phase
    values["lastRetry.duration"] = str(int(child.duration_seconds() or 0))
    values["lastRetry.message"] = child.message
    verdict = scope.evaluate(expression, values)
    if verdict not in ("true", "false"):
        raise WorkflowError(
            f"retryStrategy.expression {expression!r} must be true or false, got {verdict!r}"
        )
    return verdict == "true"


def should_retry(policy: str, child: NodeRecord) -> bool:
    if policy == "Always":
        return child.phase in runmodel.FAILED_PHASES
    if policy == "OnError":
        return child.phase == "Error"
    if policy == "OnTransientError":
        text = child.message.lower()
        return child.phase == "Error" and any(marker in text for marker in TRANSIENT_MARKERS)
    return child.phase == "Failed"  # OnFailure, Argo's default
