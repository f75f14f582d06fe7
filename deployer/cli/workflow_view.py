"""Terminal rendering of workflow runs: node trees, run tables and progress lines."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from rich.tree import Tree

from deployer.model.run import NodeRecord, RunRecord

PHASE_STYLES = {
    "Succeeded": "green",
    "Skipped": "dim",
    "Omitted": "dim",
    "Running": "yellow",
    "Pending": "yellow",
    "Failed": "bold red",
    "Error": "bold red",
}

PHASE_MARKS = {
    "Succeeded": "✔",
    "Skipped": "○",
    "Omitted": "○",
    "Running": "◷",
    "Pending": "◷",
    "Failed": "✖",
    "Error": "⚠",
}

# Node types that only group their children; `get` hides them as Argo's CLI does.
GROUPING_TYPES = frozenset({"StepGroup"})


def format_duration(seconds: float | None) -> str:
    """Format seconds as Argo's CLI does: `12s`, `3m4s`, `1h2m`."""
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60}s"
    return f"{whole // 3600}h{(whole % 3600) // 60}m"


def node_line(node: NodeRecord, *, wide: bool = False) -> str:
    """Format one node for plain output: mark, name, phase, duration, message."""
    parts = [PHASE_MARKS.get(node.phase, "?"), node.display_name, node.phase]
    duration = format_duration(node.duration_seconds())
    if duration:
        parts.append(duration)
    if wide:
        parts.extend([node.type, node.template, node.pod_name or ""])
    if node.message:
        parts.append(node.message)
    return "  ".join(part for part in parts if part)


def _visible(run: RunRecord, node: NodeRecord) -> list[NodeRecord]:
    """Return a node's children, with grouping nodes replaced by their own children."""
    shown = []
    for child_id in node.children:
        child = run.nodes.get(child_id)
        if child is None:
            continue
        if child.type in GROUPING_TYPES:
            shown.extend(_visible(run, child))
        else:
            shown.append(child)
    return shown


def plain_tree(run: RunRecord, *, wide: bool = False) -> list[str]:
    """Render a run's nodes as indented lines, entrypoint first, then the exit handler."""
    lines: list[str] = []

    def add(node: NodeRecord, depth: int) -> None:
        lines.append("  " * depth + node_line(node, wide=wide))
        for child in _visible(run, node):
            add(child, depth + 1)

    for root_id in (run.root, run.exit_root):
        root = run.nodes.get(root_id or "")
        if root is not None:
            add(root, 0)
    return lines


def rich_tree(run: RunRecord, *, wide: bool = False) -> Tree:
    """Render a run's nodes as a rich Tree with coloured phases."""
    title = Text(f"{run.name}  ", style="bold")
    title.append(run.phase, style=PHASE_STYLES.get(run.phase, ""))
    if run.message:
        title.append(f"  {run.message}")
    tree = Tree(title)

    def add(parent: Tree, node: NodeRecord) -> None:
        label = Text(node_line(node, wide=wide), style=PHASE_STYLES.get(node.phase, ""))
        branch = parent.add(label)
        for child in _visible(run, node):
            add(branch, child)

    for root_id in (run.root, run.exit_root):
        root = run.nodes.get(root_id or "")
        if root is not None:
            add(tree, root)
    return tree


def shown_phase(run: RunRecord) -> str:
    """Return the run's phase, marked `(abandoned)` when its process is gone."""
    from deployer.engine.workflow import liveness

    return f"{run.phase} (abandoned)" if liveness.abandoned(run) else run.phase


def summary(run: RunRecord) -> list[str]:
    """Return the header lines of `get`: name, namespace, phase, times, message."""
    lines = [
        f"Name:       {run.name}",
        f"Namespace:  {run.namespace}",
        f"Phase:      {shown_phase(run)}",
        f"Started:    {run.started or ''}",
        f"Finished:   {run.finished or ''}",
    ]
    if run.message:
        lines.append(f"Message:    {run.message}")
    if shown_phase(run) != run.phase:
        lines.append(f"Note:       its process {run.client} is gone; `deployer retry {run.name}`")
    if run.parameters:
        lines.append("Parameters:")
        lines.extend(f"  {key}: {value}" for key, value in run.parameters.items())
    return lines


def run_duration(run: RunRecord) -> float | None:
    """Return the run's duration in seconds, from its start to its finish or to now."""
    root = NodeRecord(
        id="", name="", display_name="", type="Workflow", started=run.started, finished=run.finished
    )
    return root.duration_seconds()


def newest_first(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """Sort runs by start time, newest first, as every `list` output shows them."""
    return sorted(runs, key=lambda r: r.started or "", reverse=True)


def run_table(runs: Iterable[RunRecord]) -> list[str]:
    """Format runs as `list` prints them: name, phase, age-ordered, duration, progress."""
    rows = [("NAME", "PHASE", "STARTED", "DURATION", "PODS", "MESSAGE")]
    for run in newest_first(runs):
        pods = [n for n in run.nodes.values() if n.type == "Pod"]
        done = sum(1 for n in pods if n.phase == "Succeeded")
        rows.append(
            (
                run.name,
                shown_phase(run),
                run.started or "",
                format_duration(run_duration(run)),
                f"{done}/{len(pods)}",
                run.message,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5]
        for row in rows
    ]
