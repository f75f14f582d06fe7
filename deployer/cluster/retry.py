"""When and how long to retry a request: 429 (honouring Retry-After), 5xx, dropped connections.

Validation errors (other 4xx, and a 500 for a body the server cannot convert to its type)
are never retried. A 404 for a namespace that this process created a moment ago is retried
for a few seconds, because its cache may lag behind.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 0.4
MAX_DELAY_SECONDS = 8.0
MAX_RETRY_AFTER_SECONDS = 30.0  # a larger Retry-After is capped to keep applies moving


@dataclass
class Transient(Exception):
    """A failed attempt worth retrying: HTTP status (0 when the connection dropped) and text."""

    status: int
    detail: str
    retry_after: float | None = None
    response: Any = None  # the underlying exception, raised again once attempts run out

    def __str__(self) -> str:
        code = f"{self.status} " if self.status else ""
        return f"{code}{self.detail}"


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Return the delay before attempt `attempt + 1`: Retry-After, else jittered doubling."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    base = min(FIRST_DELAY_SECONDS * 2.0 ** (attempt - 1), MAX_DELAY_SECONDS)
    return base * random.uniform(0.75, 1.25)


def _wait(state: tenacity.RetryCallState) -> float:
    failure = state.outcome.exception() if state.outcome else None
    retry_after = failure.retry_after if isinstance(failure, Transient) else None
    return backoff_seconds(state.attempt_number, retry_after)


def run_with_retries(call: Callable[[], Any], *, subject: str) -> Any:
    """Run `call`, retrying on Transient; the last failure's underlying error is raised."""

    def log_retry(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "attempt %d/%d for %s failed: %s; retrying in %.1f s",
            state.attempt_number,
            MAX_ATTEMPTS,
            subject,
            failure,
            delay,
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Transient),
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
        wait=_wait,
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        return retrying(call)
    except Transient as failure:
        if isinstance(failure.response, BaseException):
            raise failure.response from None
        raise
