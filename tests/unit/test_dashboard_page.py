"""The dashboard page's script run under Node.js with a small stand-in DOM and EventSource.

These tests check that the page applies `snapshot`, `run` and `deleted` events and that run
text reaches the DOM only as text. They are skipped when `node` is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deployer.dashboard import server

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js to run the page script")

SCRIPT = "<script>alert(1)</script>"

# A stand-in for the few DOM and EventSource features the page uses. Elements record their
# children and text. Setting `innerHTML` throws, so a script that used it would fail the test.
PRELUDE = """
class Element {
  constructor(tag) { this.tag = tag; this.children = []; this.text = ""; this.className = ""; }
  set textContent(value) { this.text = value; this.children = []; }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(""); }
  set innerHTML(value) { throw new Error("innerHTML used"); }
  appendChild(child) { this.children.push(child); return child; }
  replaceChildren(...children) { this.children = children; }
  createTHead() { return this.appendChild(new Element("thead")); }
  createTBody() { return this.appendChild(new Element("tbody")); }
  insertRow() { return this.appendChild(new Element("tr")); }
}
const elements = {
  view: new Element("main"), live: new Element("span"), cluster: new Element("p"),
};
globalThis.document = {
  body: { dataset: { run: RUN } },
  getElementById: (id) => elements[id],
  createElement: (tag) => new Element(tag),
};
const sources = [];
globalThis.EventSource = class {
  constructor(url) { this.url = url; this.listeners = {}; sources.push(this); }
  addEventListener(kind, listener) { this.listeners[kind] = listener; }
};
globalThis.setInterval = () => 0;
function send(kind, data) { sources[0].listeners[kind]({ data: JSON.stringify(data) }); }
function dump(element) {
  return { tag: element.tag, text: element.text, className: element.className,
    href: element.href, children: element.children.map(dump) };
}
"""


def page_script() -> str:
    found = re.search(r"<script>(.*?)</script>", server.load_template(), re.S)
    assert found is not None
    return found.group(1)


def run_page(tmp_path: Path, run: str, actions: str) -> dict[str, Any]:
    """Run the page script with `actions` after it, and return the view and the stream URL."""
    program = (
        PRELUDE.replace("RUN", json.dumps(run))
        + page_script()
        + actions
        + "\nconsole.log(JSON.stringify("
        + "{view: dump(elements.view), cluster: dump(elements.cluster), url: sources[0].url}));\n"
    )
    path = tmp_path / "page.js"
    path.write_text(program)
    done = subprocess.run(
        [str(NODE), str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cells(element: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    """Return every element with `tag` under `element`, in document order."""
    found = [element] if element["tag"] == tag else []
    for child in element["children"]:
        found.extend(cells(child, tag))
    return found


def summary(name: str, phase: str, message: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "phase": phase,
        "abandoned": False,
        "message": message,
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:00:09Z",
    }


def test_list_page_applies_snapshot_run_and_deleted(tmp_path: Path) -> None:
    snapshot = {"runs": [summary("alpha", "Running"), summary("beta", "Succeeded")]}
    actions = f"""
send("snapshot", {json.dumps(snapshot)});
send("run", {json.dumps(summary("alpha", "Failed", SCRIPT))});
send("deleted", {{"name": "beta"}});
"""
    result = run_page(tmp_path, "", actions)
    assert result["url"] == "/api/events"
    rows = cells(result["view"], "tr")[1:]  # the first row is the header
    assert len(rows) == 1
    texts = [cell["text"] for cell in cells(rows[0], "td")]
    assert texts[1:] == ["Failed", "2026-01-01T00:00:00Z", "9s", SCRIPT]
    link = cells(rows[0], "a")[0]
    assert link["href"] == "/runs/alpha"
    assert link["text"] == "alpha"
    assert rows[0]["className"] == "phase-Failed"


def test_run_page_shows_node_tree(tmp_path: Path) -> None:
    node = {
        "displayName": "say",
        "depth": 1,
        "type": "Pod",
        "phase": "Succeeded",
        "startedAt": "2026-01-01T00:00:01Z",
        "finishedAt": "2026-01-01T00:00:05Z",
        "message": SCRIPT,
        "inputs": {"text": "hi"},
        "outputs": {},
        "result": "hi",
    }
    detail = {**summary("alpha", "Succeeded"), "parameters": {"text": "hi"}, "nodes": [node]}
    actions = f'send("snapshot", {json.dumps(detail)});\n'
    result = run_page(tmp_path, "alpha", actions)
    assert result["url"] == "/api/runs/alpha/events"
    rows = cells(result["view"], "tr")[1:]
    texts = [cell["text"] for cell in cells(rows[0], "td")]
    assert texts[0] == "   say"
    assert texts[1:3] == ["Pod", "Succeeded"]
    assert texts[5] == "4s"
    assert texts[6] == SCRIPT
    assert texts[7] == "text=hi"
    assert texts[8] == "result=hi"


def test_run_page_shows_deleted_run(tmp_path: Path) -> None:
    detail = {**summary("alpha", "Running"), "parameters": {}, "nodes": []}
    actions = f'send("snapshot", {json.dumps(detail)});\nsend("deleted", {{"name": "alpha"}});\n'
    result = run_page(tmp_path, "alpha", actions)
    assert result["view"]["children"][0]["text"] == "Run alpha was deleted."


def test_page_shows_and_clears_status_notice(tmp_path: Path) -> None:
    lost = {"connected": False, "error": "refused", "since": "x", "message": SCRIPT}
    back = {"connected": True, "error": None, "since": "y", "message": ""}
    shown = run_page(tmp_path, "", f'send("status", {json.dumps(lost)});\n')
    cleared = run_page(
        tmp_path, "", f'send("status", {json.dumps(lost)});\nsend("status", {json.dumps(back)});\n'
    )

    assert shown["cluster"]["text"] == SCRIPT
    assert shown["cluster"]["children"] == []
    assert cleared["cluster"]["text"] == ""
