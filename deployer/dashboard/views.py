"""JSON shapes of runs for the dashboard API and the escaped HTML of the first page render.

Every value that comes from a run record (names, messages, parameters, inputs and outputs)
is user-supplied, so HTML output passes it through `html.escape`. Secret values are already
masked as `***` in the records; nothing here reads the Secret that keeps the unmasked values.
"""

from __future__ import annotations

import html
import re
from typing import Any

from deployer.engine.workflow import liveness
from deployer.model.run import NodeRecord, RunRecord

PAGE_MARKER = re.compile(r"__(RUN|VIEW|PROBLEM)__")
# Columns of the run list and the node tree, in page order.
RUN_COLUMNS = ("Name", "Phase", "Started", "Duration", "Message")
NODE_COLUMNS = (
    "Node",
    "Type",
    "Phase",
    "Started",
    "Finished",
    "Duration",
    "Message",
    "Inputs",
    "Outputs",
)


def format_duration(seconds: float | None) -> str:
    """Format seconds as `12s`, `3m4s` or `1h2m`, or as empty text when `seconds` is None."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60}s"
    return f"{whole // 3600}h{(whole % 3600) // 60}m"


def run_duration(run: RunRecord) -> float | None:
    """Return seconds from the run's start to its finish, or to now while it runs."""
    clock = NodeRecord(
        id="", name="", display_name="", type="Workflow", started=run.started, finished=run.finished
    )
    return tenths(clock.duration_seconds())


def tenths(seconds: float | None) -> float | None:
    """Round a duration to 0.1 s, because finer digits only make each response differ."""
    return None if seconds is None else round(seconds, 1)


def run_summary(run: RunRecord) -> dict[str, Any]:
    """Return one row of `/api/runs`: identity, phase, times and message."""
    pods = [node for node in run.nodes.values() if node.type == "Pod"]
    return {
        "name": run.name,
        "namespace": run.namespace,
        "phase": run.phase,
        # NOTE: computed when the row is sent, so a run whose process died silently shows as
        # abandoned only at its next change or on the next page load.
        "abandoned": liveness.abandoned(run),
        "message": run.message,
        "startedAt": run.started,
        "finishedAt": run.finished,
        "durationSeconds": run_duration(run),
        "attempt": run.attempt,
        "podsSucceeded": sum(1 for node in pods if node.phase == "Succeeded"),
        "pods": len(pods),
    }


def node_view(node: NodeRecord, depth: int) -> dict[str, Any]:
    """Return one node of `/api/runs/NAME` with its depth in the tree and its duration."""
    data = node.to_dict()
    data["depth"] = depth
    data["durationSeconds"] = tenths(node.duration_seconds())
    return data


def tree_order(run: RunRecord) -> list[tuple[int, NodeRecord]]:
    """Return (depth, node) for every node: the entrypoint tree, the onExit tree, then strays."""
    ordered = list(run.walk())
    seen = {node.id for _depth, node in ordered}
    ordered.extend((0, node) for node in run.nodes.values() if node.id not in seen)
    return ordered


def run_detail(run: RunRecord) -> dict[str, Any]:
    """Return `/api/runs/NAME`: the summary, parameters and the nodes in tree order.

    The submitted Workflow document and WorkflowTemplates are left out, and `deployer get RUN
    -o yaml` shows them.
    """
    detail = run_summary(run)
    detail["parameters"] = dict(run.parameters)
    detail["masked"] = list(run.masked)
    detail["root"] = run.root
    detail["exitRoot"] = run.exit_root
    detail["nodes"] = [node_view(node, depth) for depth, node in tree_order(run)]
    return detail


def _cells(values: list[str]) -> str:
    return "".join(f"<td>{html.escape(value)}</td>" for value in values)


def _pairs(values: dict[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in values.items())


def node_outputs(node: dict[str, Any]) -> dict[str, str]:
    """Return a node's output parameters plus `result`, as the Outputs column shows them."""
    shown = dict(node["outputs"])
    if node["result"] is not None:
        shown["result"] = node["result"]
    return shown


def shown_phase(summary: dict[str, Any]) -> str:
    return f"{summary['phase']} (abandoned)" if summary["abandoned"] else str(summary["phase"])


def render_runs(summaries: list[dict[str, Any]]) -> str:
    """Render the run list as an HTML table, every value escaped."""
    head = "".join(f"<th>{column}</th>" for column in RUN_COLUMNS)
    rows = []
    for summary in summaries:
        name = html.escape(summary["name"], quote=True)
        link = f'<td><a href="/runs/{name}">{name}</a></td>'
        phase = html.escape(str(summary["phase"]), quote=True)
        values = [
            shown_phase(summary),
            summary["startedAt"] or "",
            format_duration(summary["durationSeconds"]),
            summary["message"],
        ]
        rows.append(f'<tr class="phase-{phase}">{link}{_cells(values)}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{len(RUN_COLUMNS)}">No recorded runs yet.</td></tr>')
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render_run(detail: dict[str, Any]) -> str:
    """Render one run's header and node tree as HTML, every value escaped."""
    name = html.escape(detail["name"])
    header = (
        f'<h2 id="run-title">{name}</h2>'
        f'<p id="run-phase">{html.escape(shown_phase(detail))} '
        f"{html.escape(detail['message'])}</p>"
        f'<p id="run-parameters">{html.escape(_pairs(detail["parameters"]))}</p>'
    )
    head = "".join(f"<th>{column}</th>" for column in NODE_COLUMNS)
    rows = []
    for node in detail["nodes"]:
        phase = html.escape(str(node["phase"]), quote=True)
        values = [
            "   " * node["depth"] + node["displayName"],
            node["type"],
            node["phase"],
            node["startedAt"] or "",
            node["finishedAt"] or "",
            format_duration(node["durationSeconds"]),
            node["message"],
            _pairs(node["inputs"]),
            _pairs(node_outputs(node)),
        ]
        rows.append(f'<tr class="phase-{phase}">{_cells(values)}</tr>')
    table = (
        f'<table id="nodes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return header + table


def render_page(template: str, *, run: str, view: str, problem: str = "") -> str:
    """Fill the page template: `__RUN__` with the escaped run name, `__VIEW__` with HTML.

    `__PROBLEM__` gets the escaped `problem`, the notice shown while the runs may be out
    of date. One substitution pass, so text inside `view` that looks like a marker stays
    as it is.
    """
    values = {"RUN": html.escape(run, quote=True), "VIEW": view, "PROBLEM": html.escape(problem)}
    return PAGE_MARKER.sub(lambda match: values[match.group(1)], template)
