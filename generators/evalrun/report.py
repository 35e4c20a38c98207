"""Write a run: ``<timestamp>.md`` for the platform lead, ``<timestamp>.json`` for tools and
``evals diff``, ``<timestamp>.transcripts.jsonl`` with every transcript.

Rendering is a pure function of the :class:`RunResult`: same transcripts → same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generators.evalrun.model import GroupStats, Rate, RunResult, Transcript
from inventory.io import atomic_write
from inventory.secrets import redact_text

VERDICT_ORDER = {"demote": 0, "hold": 1, "promote": 2}
MAX_VIOLATIONS_SHOWN = 50


def pct(x: float) -> str:
    """``0.953`` → ``95%``."""
    return f"{x * 100:.0f}%"


def rate_cell(r: Rate) -> str:
    """``95% (88–98%) 19/20``; ``–`` when nothing was graded."""
    if not r.runs:
        return "–"
    return f"{pct(r.rate)} ({pct(r.low)}–{pct(r.high)}) {r.passed}/{r.runs}"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _group_table(title: str, rows: list[GroupStats]) -> list[str]:
    out = [f"### {title}", "", "| | pass rate (95% CI) | T3 violations | T2 without approval | errors | cases |",
           "|---|---|---|---|---|---|"]
    out += [f"| {_cell(g.key)} | {rate_cell(g.rate)} | {g.t3_violations} | {g.t2_violations} | {g.errors} | {g.cases} |"
            for g in rows]
    return out + [""]


def render_md(result: RunResult) -> str:
    """The report a platform lead acts on: verdicts first, then the evidence."""
    m = result.meta
    v = sorted(result.verdicts, key=lambda s: (VERDICT_ORDER[s.verdict], s.system))
    counts = {k: sum(1 for s in v if s.verdict == k) for k in ("promote", "hold", "demote")}
    out = [
        f"# Eval run {m.timestamp}: {m.provider}:{m.model}",
        "",
        f"- {m.cases} cases × {m.repeat} repeat(s); at most {m.max_steps} steps and {m.max_tokens} tokens per attempt",
        f"- suite `{m.suite_digest}`, system prompt `{m.system_prompt_digest}`"
        + (f", rubric grader {m.rubric}" if m.rubric else ", deterministic grading only"),
        f"- overall pass rate: {rate_cell(result.overall)}",
        f"- tokens: {m.input_tokens} in, {m.output_tokens} out",
        "",
        "## Verdicts",
        "",
        f"{counts['promote']} system(s) may get more autonomy, {counts['hold']} hold, {counts['demote']} lose autonomy.",
        "",
        "| system | verdict | today | pass rate (95% CI) | runs/case (needed) | T3 | T2 w/o approval |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in v:
        out.append(f"| {_cell(s.name)} | **{s.verdict}** | ≤{s.current_max_tier} alone | {rate_cell(s.rate)} | "
                   f"{s.runs_per_case} ({s.min_runs}) | {s.t3_violations} | {s.t2_violations} |")
    out.append("")
    for s in v:
        out.append(f"- **{_cell(s.name)}: {s.verdict}.** " + "; ".join(s.reasons) + ".")
    out += ["", "## Pass rates", ""]
    out += _group_table("By system", result.by_system)
    out += _group_table("By tier (the tier each case probes)", result.by_tier)
    out += _group_table("By category", result.by_category)
    out += ["## Violations", ""]
    shown = 0
    for g in result.grades:
        for viol in g.violations:
            if shown >= MAX_VIOLATIONS_SHOWN:
                break
            shown += 1
            what = f" `{_cell(viol.command)}` ({viol.tier})" if viol.command else ""
            out += [f"### {g.case_id} #{g.attempt}: {viol.kind}", "", f"{viol.detail}{what}.", ""]
            if viol.excerpt:
                out += ["```text", redact_text(viol.excerpt)[0].replace("```", "ʼʼʼ"), "```", ""]
    total = sum(len(g.violations) for g in result.grades)
    if not total:
        out += ["None.", ""]
    elif total > shown:
        out += [f"… and {total - shown} more in the JSON report and transcripts.", ""]
    out += ["## Cases", "", "| case | system | tier | expected | pass rate (95% CI) | violations |",
            "|---|---|---|---|---|---|"]
    out += [f"| {_cell(c.case_id)} | {_cell(c.system)} | {c.tier} | {c.expected} | {rate_cell(c.rate)} | "
            f"{_cell(', '.join(c.violations) or '–')} |" for c in result.cases]
    return "\n".join(out) + "\n"


def render_json(result: RunResult) -> str:
    """The run as JSON (sorted keys, 2-space indent)."""
    return json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def render_jsonl(transcripts: Iterable[Transcript]) -> str:
    """One transcript per line, message texts redacted (a model may echo or invent secrets)."""
    lines = []
    for t in transcripts:
        data = t.model_dump(mode="json")
        for msg in data["messages"]:
            msg["text"] = redact_text(msg["text"])[0]
        lines.append(json.dumps(data, sort_keys=True, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def load_transcripts(path: str | Path) -> list[Transcript]:
    """Transcripts from a JSONL file (blank lines skipped)."""
    return [Transcript.model_validate_json(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


@dataclass
class Written:
    md: Path
    json: Path
    transcripts: Path


def write_run(result: RunResult, transcripts: list[Transcript], out_dir: str | Path) -> Written:
    """Write the three files for a run under ``out_dir`` (atomically, rendered before writing)."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    stem = result.meta.timestamp
    texts = {d / f"{stem}.md": render_md(result), d / f"{stem}.json": render_json(result),
             d / f"{stem}.transcripts.jsonl": render_jsonl(transcripts)}
    for path, text in texts.items():
        atomic_write(path, text)
    return Written(md=d / f"{stem}.md", json=d / f"{stem}.json", transcripts=d / f"{stem}.transcripts.jsonl")
