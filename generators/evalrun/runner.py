"""Run a suite: every enabled case × ``repeat``, concurrently with a bound, cached and resumable.

A completed attempt's transcript is cached under ``.stackpolicy/cache/evalrun/`` keyed by
everything that determines it (provider, model, system prompt, the case, the attempt number,
the loop limits), so an interrupted run resumes where it stopped and an unchanged re-run
makes no API calls. Failed attempts (provider errors) are not cached: a resume retries them.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from generators.documents.model import EvalCase, EvalSuite
from generators.evalrun.agent import DEFAULT_SYSTEM_PROMPT, Backend, LoopLimits, case_context, run_case
from generators.evalrun.grader import Grader
from generators.evalrun.ladder import verdicts
from generators.evalrun.model import Grade, RunMeta, RunResult, Transcript
from generators.evalrun.rubric import RubricGrader
from generators.evalrun.stats import case_summaries, case_tier, group, group_by
from generators.evalrun.tools import TOOL_SPECS, CaseTools
from generators.providers.pricing import estimate_tokens, price_for
from generators.risk.model import Tier

CACHE_DIR = Path(".stackpolicy") / "cache" / "evalrun"
CACHE_VERSION = "1"  # bump when the loop or the simulated tools change what a transcript means


def digest(text: str) -> str:
    """A short stable digest (sha256, 12 hex digits)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def suite_digest(suite: EvalSuite) -> str:
    """Digest of the cases and ladder (not the prose summary), to tell two runs' suites apart."""
    data = [c.model_dump(mode="json") for c in suite.cases] + [r.model_dump(mode="json") for r in suite.ladder]
    return digest(json.dumps(data, sort_keys=True))


def select_cases(suite: EvalSuite, patterns: Sequence[str] = ()) -> list[EvalCase]:
    """Enabled cases whose id or system matches any glob in ``patterns`` (all when empty), in suite order."""
    out = []
    for c in suite.cases:
        if c.disabled:
            continue
        if patterns and not any(fnmatch.fnmatchcase(c.id, p) or fnmatch.fnmatchcase(c.system, p) for p in patterns):
            continue
        out.append(c)
    return out


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(timezone.utc)


def timestamp(clock: Callable[[], datetime]) -> str:
    """``20260127T053416Z``: sortable, filename-safe."""
    return clock().astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class TranscriptCache:
    """One JSON file per completed attempt; ``enabled=False`` reads and writes nothing."""

    def __init__(self, root: str | Path = CACHE_DIR, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled

    @staticmethod
    def key(provider: str, model: str, system_prompt: str, case: EvalCase, attempt: int, limits: LoopLimits) -> str:
        """sha256 of everything that determines an attempt's transcript."""
        payload = json.dumps([CACHE_VERSION, provider, model, system_prompt, case.model_dump(mode="json"), attempt,
                              limits.max_steps, limits.max_tokens, limits.max_output_tokens, limits.temperature,
                              TOOL_SPECS], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        return self.enabled and self._path(key).is_file()

    def get(self, key: str) -> Transcript | None:
        """The cached transcript, or None (absent, disabled or unreadable: a miss, never an error)."""
        if not self.enabled:
            return None
        try:
            return Transcript.model_validate_json(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, tr: Transcript) -> None:
        """Store ``tr`` atomically; errored attempts are never stored (a resume retries them)."""
        if not self.enabled or tr.stopped == "error":
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(tr.model_dump_json(), encoding="utf-8")
        os.replace(tmp, path)


@dataclass
class RunSettings:
    """How to run: repeats, concurrency, loop bounds, the agent's system prompt, which cases."""

    repeat: int = 1
    concurrency: int = 4
    limits: LoopLimits = field(default_factory=LoopLimits)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    cases: Sequence[str] = ()  # globs on case id or system id


@dataclass
class RunOutput:
    """The graded run, its transcripts (in case, attempt order) and how many came from the cache."""

    result: RunResult
    transcripts: list[Transcript]
    cache_hits: int = 0


async def run_suite(
    suite: EvalSuite,
    backend: Backend,
    grader: Grader,
    *,
    sources: Sequence[str | Path] = (),
    settings: RunSettings | None = None,
    cache: TranscriptCache | None = None,
    rubric: RubricGrader | None = None,
    action_tiers: Mapping[str, Tier] | None = None,
    system_names: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = utc_now,
    progress: Callable[[int, int], None] | None = None,
) -> RunOutput:
    """Run, grade and aggregate. Same transcripts → the same :class:`RunResult` (given the clock)."""
    settings = settings or RunSettings()
    cache = cache or TranscriptCache(enabled=False)
    cases = select_cases(suite, settings.cases)
    by_id = {c.id: c for c in cases}
    provider = backend.provider
    jobs = [(c, n) for c in cases for n in range(1, settings.repeat + 1)]
    sem = asyncio.Semaphore(max(1, settings.concurrency))
    hits = 0
    done = 0

    async def one(case: EvalCase, attempt: int) -> tuple[Transcript, Grade]:
        nonlocal hits, done
        key = cache.key(provider.name, provider.model, settings.system_prompt, case, attempt, settings.limits)
        tr = cache.get(key)
        if tr is not None:
            hits += 1
        else:
            async with sem:
                tr = await run_case(backend, case, CaseTools(case, sources), settings.system_prompt, attempt,
                                    settings.limits)
            cache.put(key, tr)
        grade = grader.grade(case, tr)
        if rubric is not None:
            grade = await rubric.apply(case, tr, grade)
        done += 1
        if progress is not None:
            progress(done, len(jobs))
        return tr, grade

    pairs = await asyncio.gather(*(one(c, n) for c, n in jobs))
    transcripts = [p[0] for p in pairs]
    grades = [p[1] for p in pairs]
    tiers = dict(action_tiers or {})
    meta = RunMeta(timestamp=timestamp(clock), provider=provider.name, model=provider.model,
                   repeat=settings.repeat, max_steps=settings.limits.max_steps,
                   max_tokens=settings.limits.max_tokens, suite_digest=suite_digest(suite),
                   system_prompt_digest=digest(settings.system_prompt), cases=len(cases),
                   rubric=rubric.label if rubric else None,
                   input_tokens=sum(t.input_tokens for t in transcripts),
                   output_tokens=sum(t.output_tokens for t in transcripts))
    result = RunResult(
        meta=meta,
        overall=group("all", grades, len(cases)).rate,
        verdicts=verdicts(suite, grades, system_names),
        by_system=group_by(by_id, grades, lambda c: c.system),
        by_tier=group_by(by_id, grades, lambda c: case_tier(c, tiers)),
        by_category=group_by(by_id, grades, lambda c: c.category),
        cases=case_summaries(by_id, grades, tiers),
        grades=grades,
    )
    return RunOutput(result=result, transcripts=transcripts, cache_hits=hits)


@dataclass
class Estimate:
    """What a run would cost: calls and tokens expected and at most, and USD at the price table."""

    attempts: int
    cached: int
    calls_expected: int
    calls_max: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_max_usd: float


EXPECTED_TURNS = 3  # look, act (or ask), report: what a well-behaved agent takes on most cases


def estimate(suite: EvalSuite, provider_name: str, model: str, settings: RunSettings,
             cache: TranscriptCache | None = None) -> Estimate:
    """Calls and cost for a run, without calling anything (cached attempts cost nothing)."""
    cache = cache or TranscriptCache(enabled=False)
    limits = settings.limits
    tool_tokens = estimate_tokens(json.dumps(TOOL_SPECS))
    price = price_for(provider_name, model)
    attempts = cached = calls = calls_max = tin = tout = 0
    tin_max = tout_max = 0
    for case in select_cases(suite, settings.cases):
        base = estimate_tokens(settings.system_prompt + case_context(case) + case.request) + tool_tokens
        for n in range(1, settings.repeat + 1):
            attempts += 1
            if cache.has(cache.key(provider_name, model, settings.system_prompt, case, n, limits)):
                cached += 1
                continue
            turns = min(EXPECTED_TURNS, limits.max_steps)
            calls += turns
            calls_max += limits.max_steps
            # Every turn resends the conversation so far: ~300 tokens of answer + tool output per turn.
            tin += sum(base + 300 * k for k in range(turns))
            tout += 300 * turns
            tin_max += min(limits.max_tokens, sum(base + limits.max_output_tokens * k for k in range(limits.max_steps)))
            tout_max += limits.max_output_tokens * limits.max_steps
    return Estimate(attempts=attempts, cached=cached, calls_expected=calls, calls_max=calls_max,
                    input_tokens=tin, output_tokens=tout, cost_usd=round(price.cost(tin, tout), 4),
                    cost_max_usd=round(price.cost(tin_max, tout_max), 4))
