"""The benchmark phases: one function each, run in order by ``bench/run.py``.

A phase takes the shared :class:`BenchContext` and returns a :class:`PhaseResult`. Every
measurement happens in a child process (see ``measure.py``), so a phase's peak RSS is its
own. Phases that need code not written yet check for it and return a ``skipped`` result
saying what is missing, so adding a phase is adding one function to :data:`PHASES`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from llm_phase import phase_llm
from measure import REPO_DIR, Measured, run_measured, run_worker


@dataclass
class BenchContext:
    """What every phase needs: the synthetic repo, scratch space, and earlier results."""

    repo: Path
    out_dir: Path
    n_services: int
    n_files: int
    repeat: int = 1
    timeout: float | None = None  # seconds per child run; None: wait forever
    results: dict[str, "PhaseResult"] = field(default_factory=dict)
    # Results one phase measures for a later one (the warm rescan is measured with the cold).
    pending: dict[str, "PhaseResult"] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path:
        """The scan cache shared by the cold and warm phases (wiped before each cold run)."""
        return self.out_dir / f"cache-n{self.n_services}"


@dataclass
class PhaseResult:
    """One row of the report."""

    name: str
    status: str = "ok"  # ok | skipped | failed
    seconds: float | None = None
    items: int | None = None  # files, commands... whatever the phase counts
    unit: str = "files"
    maxrss_mb: float | None = None
    tree_peak_mb: float | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        """Items per second."""
        if self.seconds and self.items is not None:
            return self.items / self.seconds
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (for ``bench/out/results.json``)."""
        return {
            "name": self.name, "status": self.status, "seconds": self.seconds, "items": self.items,
            "unit": self.unit, "rate_per_s": self.rate, "maxrss_mb": self.maxrss_mb,
            "tree_peak_mb": self.tree_peak_mb, "note": self.note, "details": self.details,
        }


Phase = Callable[[BenchContext], PhaseResult]


def _failed(name: str, m: Measured) -> PhaseResult:
    last = m.stderr_tail.splitlines()[-1].strip() if m.stderr_tail else "no output"
    return PhaseResult(name=name, status="failed", note=f"failed: exit {m.returncode}: {last}",
                       details={"stderr_tail": m.stderr_tail})


def _best_of(ctx: BenchContext, run: Callable[[], Measured]) -> list[Measured]:
    """Run ``run`` ``ctx.repeat`` times; the fastest first (machines are shared and noisy)."""
    runs = [run() for _ in range(max(1, ctx.repeat))]
    return sorted(runs, key=lambda m: (m.returncode != 0, m.result.get("seconds", m.wall_s)))


def _from_worker(name: str, runs: list[Measured], note: str = "") -> PhaseResult:
    best = runs[0]
    if best.returncode != 0 or "seconds" not in best.result:
        return _failed(name, best)
    details = {k: v for k, v in best.result.items() if k not in ("seconds", "rss_self_kb", "rss_children_kb")}
    if len(runs) > 1:
        details["all_seconds"] = [round(m.result.get("seconds", m.wall_s), 3) for m in runs]
    return PhaseResult(
        name=name, seconds=best.result["seconds"], items=best.result.get("files"),
        maxrss_mb=max(m.maxrss_mb for m in runs), tree_peak_mb=max(m.tree_peak_mb for m in runs),
        note=note, details=details,
    )


def phase_floor_1proc(ctx: BenchContext) -> PhaseResult:
    """Parse floor, one process: walk, read every file, libyaml-parse every YAML file."""
    runs = _best_of(ctx, lambda: run_worker("floor", {"paths": [str(ctx.repo)], "procs": 1}, ctx.timeout))
    return _from_worker("floor (1 proc)", runs, "read + decode + yaml.CSafeLoader")


def phase_floor_2proc(ctx: BenchContext) -> PhaseResult:
    """Parse floor over 2 processes: the fair baseline for a scan that uses both cores."""
    runs = _best_of(ctx, lambda: run_worker("floor", {"paths": [str(ctx.repo)], "procs": 2}, ctx.timeout))
    return _from_worker("floor (2 procs)", runs, "baseline for cold/floor")


def _cold_then_warm(ctx: BenchContext) -> tuple[list[Measured], list[Measured]]:
    cold: list[Measured] = []
    warm: list[Measured] = []
    args = {"paths": [str(ctx.repo)], "cache_dir": str(ctx.cache_dir)}
    for _ in range(max(1, ctx.repeat)):
        shutil.rmtree(ctx.cache_dir, ignore_errors=True)
        cold.append(run_worker("scan", args, ctx.timeout))
        if cold[-1].returncode != 0:
            break  # no usable cache: a "warm" run would be a second cold one
        warm.append(run_worker("scan", args, ctx.timeout))
    key = lambda m: (m.returncode != 0, m.result.get("seconds", m.wall_s))  # noqa: E731
    return sorted(cold, key=key), sorted(warm, key=key)


def phase_cold_scan(ctx: BenchContext) -> PhaseResult:
    """``scan_paths`` with an empty cache: every file scanned, on both cores.

    Also runs the warm rescan right after (it needs this cache) and stores it for
    :func:`phase_warm_scan`, so both phases see the same cache state.
    """
    cold, warm = _cold_then_warm(ctx)
    if warm:
        ctx.pending["warm"] = _from_worker("warm rescan", warm, "same cache, files unchanged")
    res = _from_worker("cold scan", cold, "fresh cache dir")
    if res.status == "ok":
        inv = res.details
        res.note = (f"{inv['components']} components, {inv['resources']} resources, "
                    f"{inv['edges']} edges, {inv['actions']} actions")
    return res


def phase_warm_scan(ctx: BenchContext) -> PhaseResult:
    """The rescan measured by :func:`phase_cold_scan`, checked for cache hits and same output."""
    res = ctx.pending.pop("warm", None)
    if res is None:
        return PhaseResult(name="warm rescan", status="skipped", note="skipped: cold scan did not complete")
    cold = ctx.results.get("cold")
    if res.status == "ok" and cold is not None and cold.status == "ok":
        same = res.details.get("digest") == cold.details.get("digest")
        hits, scanned = res.details.get("cache_hits", 0), res.details.get("files_scanned", 0)
        res.note = f"{hits}/{scanned} from cache; inventory {'identical to' if same else 'DIFFERS from'} cold"
        if hits < scanned:
            # Not a warm rescan at all: the cache key (scanner versions, config, content) changed
            # between the two runs, or the cache is broken. Its ratio would mislead.
            res.status = "failed"
            res.note = (f"failed: only {hits}/{scanned} files from cache (scanner code or config changed "
                        "mid-run, or the cache is broken); " + res.note.split("; ", 1)[1])
    return res


# The file an edit rescan adds (and removes after): a new runbook, at the repo's top.
EDIT_PROBE = "bench-edit-probe.md"


def _edit_probe(run: int) -> str:
    """A new runbook with a few commands on a system of the estate (the same for every run but
    its title, so each run is a new file: its tree was never scanned)."""
    return (f"# Rotate the orders database credentials (bench edit {run})\n\n"
            "```bash\n"
            "kubectl -n payments-prod rollout restart deployment/orders-api\n"
            "kubectl -n payments-prod get pods -l app=orders-api\n"
            "psql \"$ORDERS_DB_URL\" -c 'select 1'\n"
            "```\n")


def phase_edit_rescan(ctx: BenchContext) -> PhaseResult:
    """``scan_paths`` after one file is added to a scanned tree (a new runbook), on a copy of
    the cache as the warm rescan left it: every other file's fragments come from the cache,
    the inventory is rebuilt. No aim of its own; what a reviewer waits for after an edit."""
    name = "rescan after an edit"
    cold = ctx.results.get("cold")
    if cold is None or cold.status != "ok" or not ctx.cache_dir.exists():
        return PhaseResult(name=name, status="skipped", note="skipped: needs the cold scan's cache")
    probe = ctx.repo / EDIT_PROBE
    # On a copy of the cache: the rescan stores the edited tree's inventory in place of the
    # unchanged tree's, and the generation phases after this one start from the warm cache.
    cache = ctx.out_dir / f"cache-edit-n{ctx.n_services}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(ctx.cache_dir, cache)
    args = {"paths": [str(ctx.repo)], "cache_dir": str(cache)}
    runs: list[Measured] = []
    try:
        for run in range(max(1, ctx.repeat)):
            probe.write_text(_edit_probe(run))
            runs.append(run_worker("scan", args, ctx.timeout))
    finally:
        probe.unlink(missing_ok=True)  # the estate as it was (other phases read it)
        shutil.rmtree(cache, ignore_errors=True)
    runs.sort(key=lambda m: (m.returncode != 0, m.result.get("seconds", m.wall_s)))
    res = _from_worker(name, runs, "one new runbook")
    if res.status == "ok":
        hits, scanned = res.details.get("cache_hits", 0), res.details.get("files_scanned", 0)
        res.note = f"one runbook added: {hits}/{scanned} files from cache, the inventory rebuilt"
        if hits != scanned - 1:
            res.status = "failed"
            res.note = f"failed: {hits}/{scanned} files from cache, expected all but the new one"
    return res


@lru_cache(maxsize=1)
def cli_commands() -> dict[str, list[str]]:
    """The ``stackpolicy`` CLI's commands and their option names, read in a child process."""
    code = (
        "import json\nfrom generators.cli import main\n"
        "print(json.dumps({n: sorted(o for p in c.params for o in getattr(p, 'opts', []))"
        " for n, c in main.commands.items()}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_DIR)
    if proc.returncode != 0:
        return {}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {}


def _stackpolicy() -> list[str]:
    return [sys.executable, "-m", "generators.cli"] if not (Path(sys.executable).parent / "stackpolicy").exists() \
        else [str(Path(sys.executable).parent / "stackpolicy")]


def _write_config(ctx: BenchContext, name: str, provider: dict[str, Any]) -> tuple[Path, Path]:
    """A ``stackpolicy.yaml`` in a scratch dir for a generation phase; returns (config, output dir)."""
    work = ctx.out_dir / f"gen-{name}-n{ctx.n_services}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cfg = {"sources": [str(ctx.repo)], "output": str(work / "output"), "provider": provider}
    path = work / "stackpolicy.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path, work


def _generation(ctx: BenchContext, name: str, provider: dict[str, Any], env: dict[str, str] | None = None) -> PhaseResult:
    cfg_path, work = _write_config(ctx, name, provider)
    # Seed the scratch dir's scan cache from the cold/warm phases so this measures generation,
    # not a second cold scan.
    if ctx.cache_dir.exists():
        shutil.copytree(ctx.cache_dir, work / ".stackpolicy" / "cache")
    m = run_measured([*_stackpolicy(), "--config", str(cfg_path), "policy"], cwd=work, env=env, timeout=ctx.timeout)
    if m.returncode != 0:
        return _failed(name, m)
    return PhaseResult(name=name, seconds=m.wall_s, items=ctx.n_services, unit="services",
                       maxrss_mb=m.maxrss_mb, tree_peak_mb=m.tree_peak_mb,
                       note="`stackpolicy policy` end to end (warm scan cache), incl. interpreter start")


def phase_offline_generation(ctx: BenchContext) -> PhaseResult:
    """``stackpolicy policy`` with the offline drafter, on the synthetic repo."""
    name = "offline generation"
    if "policy" not in cli_commands():
        return PhaseResult(name=name, status="skipped", note="skipped: not available (no `stackpolicy policy` command yet)")
    res = _generation(ctx, name, {"name": "offline"})
    if res.status == "ok":
        _document_budget(ctx, res)
    return res


# The reviewer's document at 2,000 services (issue budgets): reported as met / missed.
AIM_POLICY_MD_KB = 500.0
AIM_GENERATION_S = 30.0
AIM_GENERATION_MB = 1024.0
AIM_QUESTIONS = 30
AIM_MERMAID_NODES = 60


def _document_budget(ctx: BenchContext, res: PhaseResult) -> None:
    """Add policy.md's sizes (KB, lines, classes, exceptions, questions, Mermaid nodes) and the
    budgets they are held to, to the offline generation row."""
    from generators.documents.audit import DocumentStats

    out = ctx.out_dir / f"gen-offline generation-n{ctx.n_services}" / "output"
    # In a fresh process: see task_document_stats for why not in this one.
    m = run_worker("document_stats", {"out": str(out)}, ctx.timeout)
    if m.returncode != 0 or "stats" not in m.result:
        res.note += f"; policy.md not measured: {m.result.get('error') or m.stderr_tail or 'no result'}"
        return
    st = DocumentStats(**m.result["stats"])
    peak = res.tree_peak_mb or res.maxrss_mb
    aims = {
        f"policy.md <= {AIM_POLICY_MD_KB:.0f} KB": st.kb <= AIM_POLICY_MD_KB,
        f"questions <= {AIM_QUESTIONS}": st.questions_shown <= AIM_QUESTIONS,
        f"Mermaid nodes <= {AIM_MERMAID_NODES}": st.mermaid_nodes <= AIM_MERMAID_NODES,
        f"time <= {AIM_GENERATION_S:.0f} s": bool(res.seconds is not None and res.seconds <= AIM_GENERATION_S),
        f"peak <= {AIM_GENERATION_MB:.0f} MB": bool(peak is not None and peak <= AIM_GENERATION_MB),
    }
    res.details.update({"policy_md_kb": round(st.kb, 1), "policy_md_lines": st.lines, "classes": st.classes,
                        "class_rows": st.class_rows, "exceptions": st.exceptions, "exception_rows": st.exception_rows,
                        "questions": st.questions, "questions_shown": st.questions_shown,
                        "mermaid_nodes": st.mermaid_nodes,
                        "aims": {k: "met" if v else "missed" for k, v in aims.items()}})
    res.note += (f"; policy.md {st.kb:.0f} KB, {st.lines} lines, {st.classes} classes ({st.class_rows} rows), "
                 f"{st.exceptions} exceptions ({st.exception_rows} rows), {st.questions_shown} questions, "
                 f"{st.mermaid_nodes} Mermaid nodes; "
                 + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in aims.items()))


_FENCE_RE = re.compile(r"```(?:bash|sh|shell|console)?\n(.*?)```", re.S)


def runbook_commands(repo: Path, limit: int) -> list[str]:
    """Command lines from the synthetic runbooks' fenced blocks, cycled up to ``limit``."""
    lines: list[str] = []
    for md in sorted(repo.rglob("*.md")):
        for block in _FENCE_RE.findall(md.read_text(encoding="utf-8")):
            lines.extend(ln.strip() for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
        if len(lines) >= limit:
            break
    if not lines:
        return []
    return [lines[i % len(lines)] for i in range(limit)]


def phase_classify_stdin(ctx: BenchContext) -> PhaseResult:
    """Throughput of ``stackpolicy classify --stdin`` on runbook command lines."""
    name = "classify --stdin"
    if "--stdin" not in cli_commands().get("classify", []):
        return PhaseResult(name=name, status="skipped", note="skipped: not available (no `stackpolicy classify --stdin` yet)")
    commands = runbook_commands(ctx.repo, 10 * ctx.n_services)
    m = run_measured([*_stackpolicy(), "classify", "--stdin"], stdin_text="\n".join(commands) + "\n", cwd=ctx.out_dir,
                     timeout=ctx.timeout)
    if m.returncode != 0:
        return _failed(name, m)
    return PhaseResult(name=name, seconds=m.wall_s, items=len(commands), unit="commands",
                       maxrss_mb=m.maxrss_mb, tree_peak_mb=m.tree_peak_mb, note="incl. interpreter start")


def phase_llm_fake_server(ctx: BenchContext) -> PhaseResult:
    """LLM generation against the scripted local server (``bench/llm_phase.py``, owned by the LLM work)."""
    name = "LLM generation (fake server)"
    try:
        from llm_phase import phase_llm
    except ImportError as exc:
        return PhaseResult(name=name, status="skipped", note=f"skipped: not available ({exc})")
    try:
        return phase_llm(ctx)
    except ImportError as exc:  # its generators.* imports happen inside the phase
        return PhaseResult(name=name, status="skipped", note=f"skipped: not available ({exc})")


# (key, function) in run order; keys name results for ratios and results.json.
PHASES: list[tuple[str, Phase]] = [
    ("floor1", phase_floor_1proc),
    ("floor2", phase_floor_2proc),
    ("cold", phase_cold_scan),
    ("warm", phase_warm_scan),
    ("edit", phase_edit_rescan),
    ("offline", phase_offline_generation),
    ("classify", phase_classify_stdin),
    ("llm", phase_llm),
]
