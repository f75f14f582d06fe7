"""The few raw API calls the local control plane needs while it starts up.

This layer does not use deployer's cluster client: it only checks health, registers the
simulated nodes and waits for them, with plain HTTPS requests.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from deployer.errors import LocalClusterError


class ApiUnreachable(LocalClusterError):
    """A request to the local kube-apiserver got no HTTP response: refused, reset or timed out."""

    def __init__(self, message: str, *, server: str) -> None:
        self.server = server
        super().__init__(message)


class Api:
    """An HTTPS client for one local API server, authenticated with the admin token.

    `logs` is the cluster's log folder, named in errors so the reader knows where to look.
    """

    def __init__(self, server: str, *, ca_file: Path, token: str, logs: Path | None = None) -> None:
        self.server = server
        self.token = token
        self.logs = logs
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float = 5.0
    ) -> tuple[int, Any]:
        """Send one request; return the status code and the decoded JSON (or text) body.

        Raises ApiUnreachable when no HTTP response arrives (connection refused or
        reset, TLS failure, timeout).
        """
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=timeout) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read())
        # URLError wraps refused connections and TLS failures. A reset or a timeout while
        # reading arrives as a bare OSError, and a truncated response as HTTPException.
        except (OSError, http.client.HTTPException) as error:
            raise ApiUnreachable(
                self._unreachable(method, path, error), server=self.server
            ) from error

    def _unreachable(self, method: str, path: str, error: Exception) -> str:
        cause = error.reason if isinstance(error, urllib.error.URLError) else error
        reason = str(cause) or type(cause).__name__
        where = self.logs / "kube-apiserver.log" if self.logs else "logs/ in the cluster's folder"
        return (
            f"request {method} {path} to kube-apiserver at {self.server} failed:"
            f" {reason}; check that the cluster runs"
            f" (`deployer local status`) and read {where}"
        )

    def ready(self) -> bool:
        """True when /readyz answers ok."""
        try:
            status, _ = self.request("GET", "/readyz", timeout=2.0)
        except ApiUnreachable:
            return False
        return status == 200


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
