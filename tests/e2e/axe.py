"""axe-core (from npm: package.json, installed by `make test`) on every page the
browser suite visits: injected before any of the page's own scripts, run once the
page has loaded, its critical, serious and moderate violations (moderate: one h1
per page, landmarks, heading order) reported to the test, which fails on any. Each
page's counts are gathered for the run's summary."""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("critical", "serious", "moderate")
PREFIX = "AXE-RESULT "

RUNNER = """
window.addEventListener('load', () => {
  if (!window.axe) return;
  axe.run(document, {resultTypes: ['violations']}).then(result => {
    const found = result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
    }));
    console.info('PREFIX' + JSON.stringify({path: location.pathname, violations: found}));
    window.__axeDone = true;
  });
});
""".replace("PREFIX", PREFIX)

# Pages checked in this run, and the violations found per page and impact.
CHECKED: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def scripts() -> list[str]:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `npm ci` (make test does)")
    return [AXE.read_text(), RUNNER]


def take(text: str) -> list[str]:
    """A page's result (a console line): record its counts; the failing violations,
    in words, for the test to report (AXE_REPORT_ONLY=1: only print them)."""
    result = json.loads(text[len(PREFIX) :])
    path = _page_name(result["path"])
    counts = CHECKED[path]
    counts["checked"] += 1
    problems = []
    for violation in result["violations"]:
        counts[violation["impact"]] += 1
        if violation["impact"] in FAILING or os.environ.get("AXE_REPORT_ONLY") == "all":
            problems.append(
                f"AXE {path}: {violation['impact']} {violation['id']} ({violation['help']}) "
                f"at {', '.join(violation['nodes'])}"
            )
    if os.environ.get("AXE_REPORT_ONLY"):
        print(*problems, sep="\n")
        return []
    return problems


def finish(page) -> None:
    """Let the last page's check finish before the test's page closes."""
    with contextlib.suppress(Exception):  # the page is gone, or not one of the panel's
        page.wait_for_function("window.__axeDone === true", timeout=10_000)


def summary() -> list[str]:
    lines = []
    for path in sorted(CHECKED):
        counts = CHECKED[path]
        found = ", ".join(f"{counts[i]} {i}" for i in ("critical", "serious", "moderate", "minor"))
        lines.append(f"  {path}: checked {counts['checked']}×; {found}")
    return lines


def _page_name(path: str) -> str:
    """A path with its ids as <id>, so a page counts once whatever row it shows."""
    parts = ["<id>" if part.isdigit() else part for part in urlsplit(path).path.split("/")]
    return "/".join(parts)
