"""Helm inputs and outputs that need no helm binary: chart references, values, manifests.

- `chart_location` decides whether a `chart:` is a local folder or archive (resolved
  against the workflow's folder), an `oci://` or `https://` reference, or a chart name
  in a repository.
- `load_values_files` reads `valuesFiles` in order, as `helm -f` does.
- `parse_release_manifest` turns the text that `helm get manifest` prints into
  Manifests whose Source is the chart template named in Helm's `# Source:` comment.
  The text is parsed as plain YAML and never rendered by Jinja2, because Helm output
  may contain `{{` on purpose (for example a Grafana or Alertmanager template).
"""

from __future__ import annotations

import difflib
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import InputError
from deployer.model.objects import Manifest, Source
from deployer.sources.documents import parse_documents

_SOURCE_COMMENT = re.compile(r"^# Source: (?P<file>.+?)\s*$", re.MULTILINE)
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_REMOTE_PREFIXES = ("oci://", "https://", "http://", "file://")
CRD_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ChartLocation:
    """Source of a chart: `ref` as helm takes it, plus `local` when it is a path."""

    ref: str
    local: Path | None = None


def chart_location(chart: str, *, base_dir: Path, repo: str | None = None) -> ChartLocation:
    """Resolve a `chart:` value to what `helm` takes.

    With `repo`, `chart` is a chart name in that repository. A value with a URL scheme
    is passed through. Anything else is a local folder or `.tgz`, relative to
    `base_dir`, unless it looks like `repo-name/chart`, no such path exists and
    `repo-name` is no folder in `base_dir` either.
    """
    if repo or chart.startswith(_REMOTE_PREFIXES):
        return ChartLocation(ref=chart)
    path = Path(chart)
    full = path if path.is_absolute() else base_dir / path
    if full.exists():
        return ChartLocation(ref=str(full.resolve()), local=full.resolve())
    looks_like_name = len(path.parts) == 2 and not chart.startswith((".", "/"))
    folder = base_dir / path.parts[0]
    if looks_like_name and folder.is_dir():
        raise InputError(_missing_in_folder(chart, full, folder))
    if looks_like_name:
        return ChartLocation(ref=chart)
    raise InputError(
        f"chart {chart!r} not found at {full}; give a chart folder or .tgz relative to the "
        "workflow file, an oci:// or https:// reference, or a chart name with repo:"
    )


def _missing_in_folder(chart: str, full: Path, folder: Path) -> str:
    """Describe a `repo-name/chart` reference whose first part is a local folder."""
    entries = sorted(entry.name for entry in folder.iterdir())
    close = difflib.get_close_matches(full.name, entries, n=1)
    hint = f" (did you mean {folder.name}/{close[0]}?)" if close else ""
    return (
        f"chart {chart!r} not found at {full}{hint}; {folder} is a local folder, so the "
        "chart is read as a path in it. For a chart in a repository, give the repository "
        "URL in repo: and the chart name in chart:"
    )


def load_values_files(files: Sequence[str], *, base_dir: Path) -> list[dict[str, Any]]:
    """Read values files in order; each must contain one YAML mapping (or nothing)."""
    layers: list[dict[str, Any]] = []
    for name in files:
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as failure:
            raise InputError(
                f"cannot read values file: {failure.strerror}", file=str(path)
            ) from None
        documents = [doc for doc in parse_documents(text, file=str(path)) if doc.data is not None]
        if not documents:
            layers.append({})
            continue
        if len(documents) > 1 or not isinstance(documents[0].data, Mapping):
            raise InputError(
                "a values file must contain one YAML mapping",
                file=str(path),
                line=documents[0].line,
            )
        layers.append(dict(documents[0].data))
    return layers


def parse_release_manifest(text: str, *, release: str) -> list[Manifest]:
    """Parse `helm get manifest` output into Manifests sourced from their chart templates."""
    manifests: list[Manifest] = []
    for chunk in _DOCUMENT_SEPARATOR.split(text):
        found = _SOURCE_COMMENT.search(chunk)
        file = found["file"] if found else f"helm release {release}"
        for document in parse_documents(chunk, file=file):
            data = document.data
            if data is None:
                continue
            if not isinstance(data, dict) or not data.get("apiVersion") or not data.get("kind"):
                raise InputError(
                    f"helm release {release} contains a document that is not a Kubernetes object",
                    file=file,
                    line=document.line,
                )
            items = data.get("items") if str(data["kind"]).endswith("List") else None
            bodies = items if isinstance(items, list) else [data]
            manifests.extend(
                Manifest(body=body, source=Source(file, document.line)) for body in bodies
            )
    return manifests


def archive_crds(archive: Path) -> list[dict[str, Any]]:
    """Read the CRDs in the top chart's `crds/` folder of a packaged chart (`.tgz`).

    Only `.yaml`, `.yml` and `.json` files under `<chart>/crds/` count.
    CRDs of subcharts (`<chart>/charts/...`) are not read.
    """
    found: list[dict[str, Any]] = []
    try:
        with tarfile.open(archive, "r:gz") as bundle:
            for member in sorted(bundle.getmembers(), key=lambda m: m.name):
                parts = Path(member.name).parts
                in_crds = len(parts) >= 3 and parts[1] == "crds"
                if not (member.isfile() and in_crds and member.name.endswith(CRD_SUFFIXES)):
                    continue
                extracted = bundle.extractfile(member)
                text = extracted.read().decode("utf-8-sig") if extracted else ""
                documents = parse_documents(text, file=f"{archive}:{member.name}")
                found.extend(doc.data for doc in documents if isinstance(doc.data, dict))
    except (OSError, tarfile.TarError) as failure:
        raise InputError(f"cannot read chart archive: {failure}", file=str(archive)) from None
    return found


def crd_manifests(crds: Sequence[Mapping[str, Any]], *, chart: str) -> list[Manifest]:
    """Wrap the CRDs of a chart's `crds/` folder as Manifests; anything else is an error."""
    manifests: list[Manifest] = []
    for index, body in enumerate(crds):
        if body is None:
            continue
        if body.get("kind") != "CustomResourceDefinition":
            raise InputError(
                f"crds/ of chart {chart} contains a {body.get('kind')!r} (document {index}); "
                "Helm installs only CustomResourceDefinitions from crds/"
            )
        manifests.append(Manifest(body=dict(body), source=Source(f"{chart}/crds", 0, index)))
    return manifests
