"""Send one HTTP request to the API server and decode the JSON response, with retries.

Requests go through the kubernetes client's ApiClient (for authentication and the one
shared urllib3 pool) with `_preload_content=False`, so bodies are decoded straight
from bytes and no model objects are built.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import urllib3

from deployer.cluster import statuses
from deployer.cluster.kube import ApiException
from deployer.cluster.retry import Transient, run_with_retries
from deployer.errors import ApiError

Query = Sequence[tuple[str, str]]

REQUEST_TIMEOUT = (10.0, 60.0)  # seconds to connect, seconds between bytes read
NAMESPACE_GRACE_SECONDS = 10.0  # how long a fresh namespace's NotFound counts as transient


class Transport:
    """Request sender shared by every thread of one Cluster."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client
        self._created_namespaces: dict[str, float] = {}
        self._lock = threading.Lock()

    def note_namespace_created(self, name: str) -> None:
        """Remember that this process just created namespace `name`."""
        with self._lock:
            self._created_namespaces[name] = time.monotonic()

    def _namespace_is_fresh(self, name: str | None) -> bool:
        with self._lock:
            created = self._created_namespaces.get(name or "")
        return created is not None and time.monotonic() - created < NAMESPACE_GRACE_SECONDS

    def open(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        timeout: Any = REQUEST_TIMEOUT,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request and return the unread response; raise ApiException on non-2xx."""
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        response: urllib3.BaseHTTPResponse = self.api_client.call_api(
            path,
            method,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )
        return response

    def call(
        self,
        method: str,
        path: str,
        *,
        subject: str,
        query: Query = (),
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        secret: bool = False,
        applying: bool = False,
    ) -> dict[str, Any]:
        """Send a request with retries and return the decoded JSON body."""

        def attempt() -> dict[str, Any]:
            try:
                response = self.open(
                    method, path, query=query, body=body, content_type=content_type, accept=accept
                )
            except ApiException as failure:
                raise self.classify(
                    failure, subject=subject, secret=secret, applying=applying
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as failure:
                error = ApiError(f"{subject}: connection to the API server failed: {failure}")
                raise Transient(0, str(failure), response=error) from None
            try:
                data = response.data
            finally:
                response.release_conn()
            decoded = json.loads(data) if data else {}
            return decoded if isinstance(decoded, dict) else {}

        result: dict[str, Any] = run_with_retries(attempt, subject=subject)
        return result

    def classify(
        self, failure: ApiException, *, subject: str, secret: bool, applying: bool
    ) -> Exception:
        """Map an HTTP failure to Transient (worth retrying) or to the deployer error."""
        code = int(failure.status or 0)
        error = statuses.to_error(
            code, failure.body, subject=subject, secret=secret, applying=applying
        )
        if error.reason == statuses.INVALID:
            return error
        if code == 429 or code >= 500 or code == 0:
            return Transient(code, str(error), _retry_after(failure), response=error)
        namespace = statuses.is_namespace_not_found(code, failure.body)
        if namespace and self._namespace_is_fresh(namespace):
            return Transient(code, f"namespace {namespace} not found yet", response=error)
        return error


def _retry_after(failure: ApiException) -> float | None:
    headers = failure.headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
