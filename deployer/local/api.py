"""The few raw API calls the local control plane needs while it starts up.

This layer does not use deployer's cluster client: it only checks health, registers the
simulated nodes and waits for them, with plain HTTPS requests.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class Api:
    """An HTTPS client for one local API server, authenticated with the admin token."""

    def __init__(self, server: str, *, ca_file: Path, token: str) -> None:
        self.server = server
        self.token = token
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float = 5.0
    ) -> tuple[int, Any]:
        """Send one request; return the status code and the decoded JSON (or text) body."""
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

    def ready(self) -> bool:
        """True when /readyz answers ok."""
        try:
            status, _ = self.request("GET", "/readyz", timeout=2.0)
        except (OSError, ssl.SSLError):
            return False
        return status == 200


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
