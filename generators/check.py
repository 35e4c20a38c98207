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

from generators.documents.compact import expand_policy
from generators.documents.model import Policy
from generators.documents.render import EvidenceLinker
from generators.documents.rowids import expand_class_row, is_exception_group
from generators.review.parse import Parsed, TableRow, parse_evals, parse_policy
from generators.review.tables import FLAG_NEW
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
    action_id: str | None = None  # the action class, exception or action the finding is about


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


def _expand_exception_row(rid: str, exceptions: dict[str, dict[str, Any]]) -> list[str]:
    """The exception ids an exception row stands for, in the compiled table."""
    if not is_exception_group(rid):
        return [rid]
    class_id, _, rest = rid.partition("!")
    want = set(rest[1:].split("~", 1)[0].split("+")) - {"target"}
    return sorted(i for i, e in exceptions.items()
                  if e.get("class_id") == class_id and set(e.get("deciding_factors") or []) == want)


def _model_made(e: dict[str, Any]) -> bool:
    return "reviewer" not in (e.get("deciding_factors") or [])


def _table_findings(parsed: Parsed, compiled: dict[str, Any], fresh: Policy | None, md_path: Path,
                    require_review: bool) -> list[Finding]:
    """The class and exception rows of policy.md against the compiled table and a fresh build."""
    out: list[Finding] = []
    md = str(md_path)
    table = compiled.get("table") or {}
    classes = {c["id"]: c for c in table.get("classes") or [] if isinstance(c, dict) and "id" in c}
    exceptions = {e["id"]: e for e in table.get("exceptions") or [] if isinstance(e, dict) and "id" in e}
    in_md: dict[str, TableRow] = {}
    for rid, row in parsed.classes.items():
        for cid in expand_class_row(rid):
            in_md[cid] = row
    exc_in_md: dict[str, TableRow] = {}
    for rid, row in parsed.exceptions.items():
        for eid in _expand_exception_row(rid, exceptions):
            exc_in_md[eid] = row

    def agree(kind: str, ident: str, row: TableRow, entry: dict[str, Any] | None) -> None:
        if entry is None:
            out.append(Finding(code="malformed", severity="error", path=md, line=row.line, action_id=ident,
                               message=f"{kind} {ident} is in policy.md but not in policy.yaml; run `make policy`"))
            return
        if not row.tier_valid:
            return
        floor, tier = entry.get("floor"), entry.get("tier")
        if floor in TIERS and tier_index(row.tier) < tier_index(floor) and not row.reviewed:
            out.append(Finding(code="below-floor", severity="error", path=md, line=row.line, action_id=ident,
                               message=f"{ident}: tier {row.tier} is below the risk model's {floor}; a lowering "
                                       f"applies only with Reviewed `yes` (and a reviewer note saying why), so "
                                       f"{floor} is what is enforced"))
        elif row.tier != tier or row.reviewed != bool(entry.get("reviewed")):
            # Exports, classify and the hook read policy.yaml: it must say what the reviewers wrote.
            out.append(Finding(code="stale-compiled", severity="error", path=md, line=row.line, action_id=ident,
                               message=f"{ident}: policy.md says {row.tier}{' (reviewed)' if row.reviewed else ''} "
                                       f"but policy.yaml, which classify, the hook and the exports enforce, says "
                                       f"{tier}{' (reviewed)' if entry.get('reviewed') else ''}; run `make policy`"))

    for cid, row in sorted(in_md.items()):
        agree("class", cid, row, classes.get(cid))
    for eid, row in sorted(exc_in_md.items()):
        agree("exception", eid, row, exceptions.get(eid))
    for rid, row in parsed.exceptions.items():
        if is_exception_group(rid) and not _expand_exception_row(rid, exceptions):
            out.append(Finding(code="malformed", severity="error", path=md, line=row.line, action_id=rid,
                               message=f"exception group {rid} matches no exception in policy.yaml; run `make policy`"))

    if fresh is not None:
        fresh_classes = fresh.table.class_map()
        for cid in sorted(set(fresh_classes) - set(in_md)):
            c = fresh_classes[cid]
            eg = next((i.command for i in c.instances if i.is_command), c.instances[0].command if c.instances else "")
            out.append(Finding(code="drift-added", severity="error", path=md, action_id=cid,
                               message=f"new action class {cid} ({c.floor}, {len(c.instances)} actions, e.g. `{eg}`) "
                                       f"is not in the policy; run `make policy` to add it for review"))
        for cid in sorted(set(in_md) - set(fresh_classes)):
            out.append(Finding(code="drift-removed", severity="error", path=md, line=in_md[cid].line, action_id=cid,
                               message=f"action class {cid} is no longer found in the sources; run `make policy` "
                                       f"to remove it"))
        for cid in sorted(set(fresh_classes) & set(classes)):
            new, old = fresh_classes[cid], classes[cid]
            if new.floor != old.get("floor"):
                row = in_md.get(cid)
                out.append(Finding(code="drift-changed", severity="error", path=md, line=row.line if row else None,
                                   action_id=cid, message=f"{cid}: the risk model's tier moved from {old.get('floor')} "
                                                          f"to {new.floor} ({new.rationale})"))
        fresh_exc = {e.id: e for e in fresh.table.exceptions}
        model_exc = {i for i, e in exceptions.items() if _model_made(e)}
        for eid in sorted(set(fresh_exc) - set(exc_in_md)):
            e = fresh_exc[eid]
            out.append(Finding(code="drift-added", severity="error", path=md, action_id=eid,
                               message=f"new exception {eid} ({e.floor} where its class says otherwise: {e.reason}) "
                                       f"is not in the policy; run `make policy`"))
        for eid in sorted((set(exc_in_md) & model_exc) - set(fresh_exc)):
            out.append(Finding(code="drift-removed", severity="error", path=md, line=exc_in_md[eid].line, action_id=eid,
                               message=f"exception {eid} no longer holds (the target or its factors changed); "
                                       f"run `make policy`"))
    if require_review:
        for cid, c in sorted(classes.items()):
            if FLAG_NEW in (c.get("flags") or []) and not c.get("reviewed"):
                row = in_md.get(cid)
                out.append(Finding(code="unreviewed", severity="error", path=md, line=row.line if row else None,
                                   action_id=cid, message=f"class {cid} ({c.get('tier')}) appeared after the policy "
                                                          f"was approved; review it and set Reviewed to `yes`"))
    return out


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
    compiled = expand_policy(_yaml(yaml_path, findings) or {})  # whole action rows (compact.py)
    if not parsed.classes and (parsed.rows or not compiled.get("table")):
        findings.append(Finding(code="malformed", severity="error", path=str(md_path),
                                message="policy.md has no action class table (an older per-action policy?); run "
                                        "`stackpolicy policy` to regenerate it (per-action decisions are carried over)"))
    findings += _table_findings(parsed, compiled, fresh, md_path, require_review)
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
