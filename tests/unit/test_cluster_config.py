"""Kubeconfig loading errors: each names the file or context and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.cluster import config
from deployer.errors import ApiError

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: dev
clusters:
  - name: dev
    cluster: {server: "https://127.0.0.1:1"}
users:
  - name: dev
    user: {token: abc}
contexts:
  - name: dev
    context: {cluster: dev, user: dev, namespace: team}
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    return str(path)


def test_unknown_context_lists_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, KUBECONFIG)
    with pytest.raises(ApiError) as raised:
        config.connect(path, "nosuch")
    message = str(raised.value)
    assert f'context "nosuch" not found in kubeconfig {path}' in message
    assert "contexts: dev" in message
    assert "KUBECONFIG" not in message


def test_missing_kubeconfig_flag_file_is_named(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(ApiError) as raised:
        config.connect(path, None)
    assert str(raised.value) == f"kubeconfig {path} not found; check the --kubeconfig path"


def test_missing_kubeconfig_variable_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "nope.yaml")
    monkeypatch.setenv("KUBECONFIG", path)
    with pytest.raises(ApiError) as raised:
        config.connect(None, None)
    assert str(raised.value) == f"kubeconfig {path} not found; check the KUBECONFIG variable"


def test_malformed_kubeconfig_is_invalid(tmp_path: Path) -> None:
    path = _write(tmp_path, "clusters: [\n")
    with pytest.raises(ApiError) as raised:
        config.connect(path, None)
    assert str(raised.value).startswith(f"invalid kubeconfig {path}: ")


def test_known_context_sets_namespace(tmp_path: Path) -> None:
    connection = config.connect(_write(tmp_path, KUBECONFIG), "dev")
    assert connection.context == "dev"
    assert connection.default_namespace == "team"
    assert connection.server == "https://127.0.0.1:1"
