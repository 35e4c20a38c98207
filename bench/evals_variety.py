"""Measure the offline eval suite on the bundled example and the real corpora.

Per estate: case count, cases per category, T3 and T2 class coverage (over the classes an
agent's command can fall in), the top-1 and top-12 request-shape shares, act cases whose work is
T2/T3 (must be 0), injection cases without planted text (must be 0), and what ``evals run``
gives each scripted agent (safe / reckless / over-cautious / injection-following /
blocker-ignoring). This is a measurement, not a test: the properties are asserted in
``tests/test_documents_evals.py`` and ``tests/test_corpora_evals.py``.

    .venv/bin/python bench/evals_variety.py                  # example + every corpus
    .venv/bin/python bench/evals_variety.py --only strimzi   # names containing "strimzi"
    .venv/bin/python bench/evals_variety.py --no-agents --json bench/out/evals_variety.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generators.documents.evals import (  # noqa: E402
    CATEGORY_ORDER,
    build_moves,
    coverage,
    default_classifier,
    estate_for,
    estate_names,
    gradable_classes,
    request_shape,
    shape_shares,
)
from generators.evalrun.grader import Grader  # noqa: E402
from generators.evalrun.runner import RunSettings, run_suite  # noqa: E402
from generators.evalrun.scripted import BEHAVIOURS, ScriptedBackend  # noqa: E402
from generators.pipeline import assess, draft_documents  # noqa: E402
from inventory.config import Config  # noqa: E402
from inventory.scan import scan_paths  # noqa: E402

EXAMPLE = REPO / "examples" / "acme-platform"
CORPORA = REPO.parent / "shared" / "corpora"


def estates(only: str | None) -> list[tuple[str, Path]]:
    """(label, path) of the example and every corpus folder, filtered by ``only``."""
    out = [("example", EXAMPLE)]
    if CORPORA.is_dir():
        out += [(p.name, p) for p in sorted(CORPORA.iterdir()) if p.is_dir()]
    return [(n, p) for n, p in out if not only or only.lower() in n.lower()]


def agent_results(suite, classifier, sources: list[str]) -> dict[str, dict[str, int]]:
    """Per scripted behaviour: failed cases among act / non-act / injection / blocker cases."""
    out = {}
    cases = [c for c in suite.cases if not c.disabled]
    for b in BEHAVIOURS:
        res = asyncio.run(run_suite(suite, ScriptedBackend(suite, b), Grader(classifier), sources=sources,
                                    settings=RunSettings(concurrency=8)))
        failed = {g.case_id for g in res.result.grades if g.outcome != "pass"}
        row = {}
        for label, pick in (("act", lambda c: c.expected == "act"), ("non_act", lambda c: c.expected != "act"),
                            ("injection", lambda c: c.category == "prompt-injection"),
                            ("blocker", lambda c: c.category == "blocker-escalation")):
            ids = {c.id for c in cases if pick(c)}
            row[label] = [len(ids & failed), len(ids)]
        row["failed"] = [len(failed), len(cases)]
        out[b] = row
    return out


def measure(label: str, path: Path, agents: bool) -> dict:
    """One estate's figures."""
    cfg = Config(sources=[str(path)])
    inv, _ = scan_paths([str(path)], cfg, use_cache=False)
    policy, suite = draft_documents(inv, assess(inv, cfg), cfg)
    classifier = default_classifier(inv, policy, cfg)
    moves = build_moves(estate_for(inv, policy, classifier))
    cov = coverage(suite.cases, gradable_classes(policy, moves))
    names = estate_names(inv, policy)
    top1, top12 = shape_shares(suite.cases, names)
    cases = suite.cases
    bad_act = [c.id for c in cases if c.expected == "act" and c.safe_commands
               and classifier.classify(c.safe_commands[-1]).tier in ("T2", "T3")]
    no_text = [c.id for c in cases if c.category == "prompt-injection" and not c.injection]
    shapes = Counter(request_shape(c.request, names) for c in cases).most_common(3)
    row = {
        "estate": label, "cases": len(cases), "categories": dict(Counter(c.category for c in cases)),
        "T3": list(cov["T3"]), "T2": list(cov["T2"]), "top1": round(top1 * 100, 1), "top12": round(top12 * 100, 1),
        "blocker_share": round(100 * sum(c.category == "blocker-escalation" for c in cases) / max(1, len(cases)), 1),
        "act_on_t2_t3": bad_act, "injection_without_text": no_text, "top_shapes": shapes,
    }
    if agents:
        row["agents"] = agent_results(suite, classifier, [str(path)])
    return row


def show(row: dict) -> str:
    cats = ", ".join(f"{row['categories'].get(k, 0)} {k}" for k in CATEGORY_ORDER)
    lines = [f"== {row['estate']}: {row['cases']} cases ({cats})",
             f"   T3 {row['T3'][0]}/{row['T3'][1]}  T2 {row['T2'][0]}/{row['T2'][1]}  top-1 {row['top1']}%  "
             f"top-12 {row['top12']}%  blockers {row['blocker_share']}%  act-on-T2/T3 {len(row['act_on_t2_t3'])}  "
             f"injections without text {len(row['injection_without_text'])}"]
    for shape, n in row["top_shapes"]:
        lines.append(f"   {n:3d} × {shape[:110]}")
    for b, r in row.get("agents", {}).items():
        lines.append(f"   {b:20s} failed {r['failed'][0]}/{r['failed'][1]}: act {r['act'][0]}/{r['act'][1]}, "
                     f"non-act {r['non_act'][0]}/{r['non_act'][1]}, injection {r['injection'][0]}/{r['injection'][1]}, "
                     f"blocker {r['blocker'][0]}/{r['blocker'][1]}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="only estates whose name contains this")
    ap.add_argument("--no-agents", action="store_true", help="skip the scripted-agent runs")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    rows = []
    for label, path in estates(args.only):
        row = measure(label, path, not args.no_agents)
        print(show(row), flush=True)
        rows.append(row)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
