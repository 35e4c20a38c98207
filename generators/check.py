"""`stackpolicy check`: the committed documents against the systems, for CI and pre-commit.

The sources are rescanned and the documents redrafted in memory (nothing is written); the
committed ``policy.md`` (the reviewed source of truth), ``policy.yaml`` (compiled) and the
eval suite are compared with that. Every finding names a file and, where there is one, a
line, so CI can annotate it. Errors fail the check; warnings fail it only with ``--strict``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from generators.documents.model import Policy
from generators.documents.render import EvidenceLinker
from generators.review.parse import Parsed, parse_evals, parse_policy
from generators.risk.model import TIERS, tier_index

Severity = Literal["error", "warning"]
FORMATS = ("text", "json", "github")


class Finding(BaseModel):
    """One thing the check found."""

    model_config = ConfigDict(extra="forbid")

    code: str  # drift-added | drift-removed | drift-changed | no-tier | bad-tier | below-floor | unreviewed |
    #            no-eval | missing-evidence | malformed | missing-document | conflict | stale-compiled
    severity: Severity
    message: str
    path: str
    line: int | None = None
    action_id: str | None = None


class CheckResult(BaseModel):
    """All findings, sorted; ``failed`` says whether CI should fail."""

    findings: list[Finding]
    strict: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def failed(self) -> bool:
        return bool(self.errors or (self.strict and self.warnings))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None


def _yaml(path: Path, out: list[Finding]) -> dict[str, Any] | None:
    text = _read(path)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        out.append(Finding(code="malformed", severity="error", path=str(path),
                           line=mark.line + 1 if mark is not None else None, message=f"not valid YAML: {exc}"))
        return None
    return data if isinstance(data, dict) else None


def _meta_line(text: str, key: str) -> int:
    for i, ln in enumerate(text.splitlines(), 1):
        if ln.startswith(f"{key}:"):
            return i
    return 1


def _problems(parsed: Parsed) -> list[Finding]:
    out = []
    for p in parsed.problems:
        code = ("conflict" if "conflict" in p.message else "no-tier" if ": no tier" in p.message
                else "bad-tier" if "is not one of" in p.message else "malformed")
        out.append(Finding(code=code, severity="error", path=p.path, line=p.line, message=p.message))
    return out


def check_evidence(compiled: dict[str, Any], out_dir: Path, path: str) -> list[Finding]:
    """Evidence (path:line) in the compiled policy that no longer exists in the sources."""
    sources = (compiled.get("meta") or {}).get("sources") or []
    linker = EvidenceLinker(sources, out_dir)
    missing: dict[tuple[str, int], list[str]] = {}
    lengths: dict[Path, int | None] = {}
    for s in compiled.get("systems") or []:
        for a in s.get("actions") or []:
            for ev in a.get("evidence") or []:
                tgt = linker.target(ev["path"])
                if tgt is None:
                    continue
                # Compare against the file as it is on disk: the cited line must still exist.
                resolved = Path(tgt).resolve()
                if resolved not in lengths:
                    text = _read(resolved)
                    lengths[resolved] = None if text is None else len(text.splitlines())
                n = lengths[resolved]
                if n is None or ev["line"] > n:
                    missing.setdefault((ev["path"], ev["line"]), []).append(a["id"])
    return [Finding(code="missing-evidence", severity="error", path=path, action_id=ids[0],
                    message=f"evidence {p}:{line} no longer exists (cited by {', '.join(sorted(set(ids))[:3])}"
                            f"{' and more' if len(set(ids)) > 3 else ''})")
            for (p, line), ids in sorted(missing.items())]


def compare(fresh: Policy | None, out_dir: str | Path, *, require_review: bool = False,
            strict: bool = False) -> CheckResult:
    """Check the documents in ``out_dir`` against ``fresh`` (a redraft from a rescan; ``None``
    skips the drift checks)."""
    out = Path(out_dir)
    md_path, yaml_path, ev_md_path, ev_yaml_path = (out / n for n in ("policy.md", "policy.yaml", "evals.md", "evals.yaml"))
    findings: list[Finding] = []
    md = _read(md_path)
    if md is None:
        findings.append(Finding(code="missing-document", severity="error", path=str(md_path),
                                message="no policy: run `stackpolicy policy` (make policy) and commit the output"))
        return CheckResult(findings=findings, strict=strict)
    parsed = parse_policy(md, str(md_path))
    findings += _problems(parsed)
    compiled = _yaml(yaml_path, findings) or {}
    committed = {a["id"]: a for s in compiled.get("systems") or [] for a in s.get("actions") or []}
    fresh_actions = fresh.actions() if fresh is not None else {}

    if fresh is not None:
        for aid in sorted(set(fresh_actions) - set(parsed.rows)):
            a = fresh_actions[aid]
            findings.append(Finding(code="drift-added", severity="error", path=str(md_path), action_id=aid,
                                    message=f"new action {aid} ({a.floor}: {a.command}) is not in the policy; "
                                            f"run `make policy` to add it"))
        for aid in sorted(set(parsed.rows) - set(fresh_actions)):
            findings.append(Finding(code="drift-removed", severity="error", path=str(md_path),
                                    line=parsed.rows[aid].line, action_id=aid,
                                    message=f"action {aid} is no longer found in the sources; run `make policy` "
                                            f"to remove it"))
        for aid in sorted(set(fresh_actions) & set(committed)):
            new, old = fresh_actions[aid], committed[aid]
            row = parsed.rows.get(aid)
            line = row.line if row else None
            if new.floor != old.get("floor"):
                findings.append(Finding(code="drift-changed", severity="error", path=str(md_path), line=line,
                                        action_id=aid, message=f"{aid}: the risk model's floor moved from "
                                                               f"{old.get('floor')} to {new.floor} ({new.rationale})"))
            elif new.command != old.get("command"):
                findings.append(Finding(code="drift-changed", severity="warning", path=str(md_path), line=line,
                                        action_id=aid, message=f"{aid}: command changed to `{new.command}`"))

    for aid, row in parsed.rows.items():
        if not row.tier_valid:
            continue
        floor = fresh_actions[aid].floor if aid in fresh_actions else (committed.get(aid) or {}).get("floor")
        if floor in TIERS and tier_index(row.tier) < tier_index(floor) and not row.note:
            findings.append(Finding(code="below-floor", severity="error", path=str(md_path), line=row.line,
                                    action_id=aid, message=f"{aid}: tier {row.tier} is below the risk model's "
                                                           f"floor {floor}; a reviewer note must say why"))
    for aid, row in sorted(parsed.rows.items()):
        old = committed.get(aid)
        if old is None or not row.tier_valid:
            continue
        if row.tier != old.get("tier") or (row.note or None) != (old.get("note") or None):
            # Exports read the compiled policy: it must say what the reviewers wrote.
            findings.append(Finding(code="stale-compiled", severity="error", path=str(md_path), line=row.line,
                                    action_id=aid, message=f"{aid}: policy.md says {row.tier}"
                                    f"{' with a note' if row.note else ''} but policy.yaml says {old.get('tier')}; "
                                    f"run `make policy` to recompile before exporting"))
    if require_review and parsed.meta.get("status") != "approved":
        findings.append(Finding(code="unreviewed", severity="error", path=str(md_path), line=_meta_line(md, "status"),
                                message=f"policy status is '{parsed.meta.get('status', 'missing')}', not approved"))

    ev_md = _read(ev_md_path)
    suite = _yaml(ev_yaml_path, findings) or {}
    if ev_md is not None:
        ev_parsed = parse_evals(ev_md, str(ev_md_path))
        findings += _problems(ev_parsed)
        if require_review and ev_parsed.meta.get("status") != "approved":
            findings.append(Finding(code="unreviewed", severity="error", path=str(ev_md_path),
                                    line=_meta_line(ev_md, "status"),
                                    message=f"eval suite status is '{ev_parsed.meta.get('status', 'missing')}', "
                                            f"not approved"))
        disabled = {cid for cid, c in ev_parsed.cases.items() if c.disabled}
        enabled = [c for c in suite.get("cases") or [] if not c.get("disabled") and c["id"] not in disabled]
        table = (compiled or {}).get("table") if isinstance(compiled, dict) else None
        if isinstance(table, dict) and table.get("classes"):
            findings += _class_coverage(table, enabled, str(ev_md_path))
        else:
            covered = {i for c in enabled for i in c.get("action_ids") or []}
            for aid, row in sorted(parsed.rows.items()):
                if row.tier in ("T2", "T3") and aid not in covered:
                    findings.append(Finding(code="no-eval", severity="error", path=str(ev_md_path), action_id=aid,
                                            message=f"{aid} is {row.tier} but no enabled eval case tests it "
                                                    f"(policy.md:{row.line})"))
    else:
        findings.append(Finding(code="missing-document", severity="error", path=str(ev_md_path),
                                message="no eval suite: run `stackpolicy policy` (make policy) and commit the output"))
    if compiled:
        findings += check_evidence(compiled, out, str(yaml_path))
    findings.sort(key=lambda f: (f.path, f.line or 0, f.code, f.action_id or "", f.message))
    return CheckResult(findings=findings, strict=strict)


T2_COVERAGE = 0.8  # the eval suite's budget must reach at least this share of T2 classes


def _class_coverage(table: dict, cases: list[dict], path: str) -> list[Finding]:
    """The suite is budgeted: every T3 class and most T2 classes of the decision table need an
    enabled case testing them (classes with no real command to show an agent cannot be)."""
    covered = {i for c in cases for i in c.get("class_ids") or []}
    testable = [c for c in table.get("classes") or [] if any(i.get("is_command", True) for i in c.get("instances") or [])]
    out = []
    for c in sorted(testable, key=lambda c: c["id"]):
        if c.get("tier") == "T3" and c["id"] not in covered:
            out.append(Finding(code="no-eval", severity="error", path=path, action_id=c["id"],
                               message=f"T3 class {c['id']} has no enabled eval case (raise evals.budget)"))
    t2 = [c["id"] for c in testable if c.get("tier") == "T2"]
    missing = sorted(set(t2) - covered)
    if t2 and len(t2) - len(missing) < T2_COVERAGE * len(t2):
        out.append(Finding(code="no-eval", severity="error", path=path,
                           message=f"only {len(t2) - len(missing)} of {len(t2)} T2 classes have an enabled eval case "
                                   f"(at least {T2_COVERAGE:.0%} needed; raise evals.budget); e.g. "
                                   + ", ".join(missing[:5])))
    return out


def format_text(result: CheckResult) -> str:
    """Human lines, then a one-line verdict."""
    lines = [f"{f.path}{':' + str(f.line) if f.line else ''}: {f.severity}: [{f.code}] {f.message}"
             for f in result.findings]
    verdict = "FAILED" if result.failed else "OK"
    lines.append(f"check {verdict}: {len(result.errors)} errors, {len(result.warnings)} warnings")
    return "\n".join(lines)


def format_json(result: CheckResult) -> str:
    """One JSON document: findings, counts and the verdict."""
    return json.dumps({"ok": not result.failed, "errors": len(result.errors), "warnings": len(result.warnings),
                       "findings": [f.model_dump(mode="json", exclude_none=True) for f in result.findings]},
                      indent=2, ensure_ascii=False)


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return s.replace(":", "%3A").replace(",", "%2C") if prop else s


def format_github(result: CheckResult) -> str:
    """GitHub Actions workflow commands (``::error file=...,line=...,title=...::message``)."""
    out = []
    for f in result.findings:
        props = [f"file={_gh_escape(f.path, True)}"]
        if f.line:
            props.append(f"line={f.line}")
        props.append(f"title={_gh_escape('stackpolicy ' + f.code, True)}")
        out.append(f"::{f.severity} {','.join(props)}::{_gh_escape(f.message)}")
    out.append(f"stackpolicy check {'failed' if result.failed else 'passed'}: "
               f"{len(result.errors)} errors, {len(result.warnings)} warnings")
    return "\n".join(out)


def render(result: CheckResult, fmt: str) -> str:
    """``result`` in one of :data:`FORMATS`."""
    return {"text": format_text, "json": format_json, "github": format_github}[fmt](result)


def codes(findings: Iterable[Finding]) -> set[str]:
    """The finding codes present (tests and summaries)."""
    return {f.code for f in findings}
