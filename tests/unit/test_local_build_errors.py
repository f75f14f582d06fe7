"""Build failures of the local control plane name the module, the version and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.errors import LocalClusterError
from deployer.local import build, paths


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEPLOYER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_go_failure_names_failing_module() -> None:
    stderr = (
        "go: downloading k8s.io/kubernetes v1.37.2\n"
        "go: k8s.io/kube-openapi@v0.0.0-20260101000000-abcdef: reading "
        "k8s.io/kube-openapi/@v/v0.0.0-20260101000000-abcdef.mod: 404 Not Found\n"
    )
    message = build._explain_go_failure("get", "k8s.io/kubernetes", "v1.37.2", stderr)
    assert "k8s.io/kubernetes v1.37.2" in message
    assert "k8s.io/kube-openapi@v0.0.0-20260101000000-abcdef" in message
    assert "versions.toml" in message


def test_missing_go_toolchain_is_reported(
    empty_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(empty_home))
    with pytest.raises(LocalClusterError, match="Go toolchain was not found"):
        build.ensure_built([build.KWOK], report=lambda _line: None)


def test_unknown_version_names_module_and_version(
    empty_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = dict(paths.versions(), kwok="v0.0.999")
    monkeypatch.setattr(paths, "versions", lambda: pinned)
    with pytest.raises(LocalClusterError) as raised:
        build.ensure_built([build.KWOK], report=lambda _line: None)
    message = str(raised.value)
    assert "sigs.k8s.io/kwok" in message
    assert "v0.0.999" in message
    assert "Traceback" not in message
    assert not build.is_built(build.KWOK)
