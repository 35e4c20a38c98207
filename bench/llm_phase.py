"""Benchmark phase: LLM generation against the local scripted server with fixed latency.

Measures, on the synthetic repo: cold generation wall time versus the ideal
``ceil(calls / concurrency) × latency`` per document stage (policy, then evals: the eval
prompts need the refined policy), where the wall beyond the ideal goes (:func:`breakdown`),
a warm rerun (aim: zero calls, < 5 % of cold), and prompt tokens per call (max, median). Runs in-process: the server is a thread, and the
interesting cost is the pipeline's concurrency, not interpreter start.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

LATENCY_S = 0.3
CONCURRENCY = 64
AIM_COLD_OVER_IDEAL = 1.3


def phase_llm(ctx):  # type: ignore[no-untyped-def] - BenchContext lives in bench/phases.py
    """Cold and warm LLM generation through the openai-compatible provider (300 ms per call)."""
    from phases import PhaseResult

    from generators.llm.prompts import PromptRenderer
    from generators.llm.run import LLMRefiner, RunOptions
    from generators.pipeline import assess, draft_documents, load_tiers
    from generators.providers.base import RetryPolicy
    from generators.providers.cache import ResponseCache
    from generators.providers.calllog import CallLog
    from generators.providers.openai_compatible import OpenAICompatibleProvider
    from generators.providers.pricing import estimate_tokens
    from inventory.config import Config
    from inventory.scan import scan_paths
    import subprocess

    name = "LLM generation (300 ms/call)"
    cfg = Config()
    inv, _ = scan_paths([str(ctx.repo)], cfg, use_cache=True, cache_dir=ctx.cache_dir)
    assessments = assess(inv, cfg)
    # The server runs in its own process, like a real API: it must not compete for our GIL.
    server = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--latency", str(LATENCY_S)],
                              cwd=REPO_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    base_url = (server.stdout.readline().strip() if server.stdout else "") + "/v1"
    tiers = load_tiers(cfg)
    prompt_tokens: list[int] = []
    try:
        with tempfile.TemporaryDirectory(dir=ctx.out_dir) as tmp:
            cache_root = Path(tmp) / "llm-cache"

            def refiner() -> LLMRefiner:
                provider = OpenAICompatibleProvider("bench", api_key="bench", base_url=base_url,
                                                    retry=RetryPolicy(max_retries=2, base_delay=0.05), timeout=30)
                return LLMRefiner(provider, PromptRenderer(tiers), cache=ResponseCache(cache_root), log=CallLog(),
                                  options=RunOptions(concurrency=CONCURRENCY))

            spent: dict[str, float] = {}
            calls: list[tuple[str, float, float]] = []  # (stage, start, end), seconds from the run's start

            def generate() -> tuple[float, dict[str, int], LLMRefiner]:
                ref = refiner()
                spent.clear()
                calls.clear()
                t0 = time.perf_counter()
                undo = _instrument(ref, spent, calls, t0)
                try:
                    draft_documents(inv, assessments, cfg, provider=ref)
                    elapsed = time.perf_counter() - t0
                finally:
                    undo()
                stage_calls: dict[str, int] = {}
                for rec in ref.log.records:
                    if not rec.cache_hit:
                        stage = rec.key.split(":")[0]
                        stage_calls[stage] = stage_calls.get(stage, 0) + 1
                stage_calls["_requests"] = sum(1 for r in ref.log.records if not r.cache_hit)
                return elapsed, stage_calls, ref

            cpu0, srv0 = _cpu_self(), _cpu_of(server.pid)
            cold_s, cold_calls, _ = generate()
            cold_spent, cold_timeline = dict(spent), list(calls)
            cold_spent["client_cpu"], cold_spent["server_cpu"] = _cpu_self() - cpu0, _cpu_of(server.pid) - srv0
            # The finished documents are cached in the background (a forked child): a real run
            # writes its documents meanwhile. The warm run must find them, so wait here (timed).
            t = time.perf_counter()
            ResponseCache(cache_root).settle()
            cold_spent["settle"] = time.perf_counter() - t
            warm_s, warm_calls, _ = generate()
            # Prompt size per call, from the prompts themselves (system + user text).
            ref = refiner()
            t0 = time.perf_counter()
            policy, evals = draft_documents(inv, assessments, cfg, provider=None)
            offline_s = time.perf_counter() - t0
            from generators.llm.slices import eval_slices, system_slices

            prompts = [ref.renderer.policy(sl) for sl in system_slices(policy, inv)] + \
                      [ref.renderer.evals(sl) for sl in eval_slices(policy, inv, evals.cases)]
            prompt_tokens = [estimate_tokens(p.system) + estimate_tokens(p.prompt) for p in prompts]
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
    ideal = sum(math.ceil(n / CONCURRENCY) * LATENCY_S for k, n in cold_calls.items() if not k.startswith("_"))
    tokens = prompt_tokens
    gap, stage_details = breakdown(cold_timeline, cold_s, CONCURRENCY, LATENCY_S)
    gap.update({
        "(info) offline policy draft inside the run": cold_spent.get("draft_policy", 0.0),
        "(info) offline eval draft inside the run (this process)": cold_spent.get("draft_evals", 0.0),
        "(info) waiting for the eval draft made ahead (forked child)": cold_spent.get("ahead_wait", 0.0),
        "(info) offline draft alone (provider=None) for comparison": offline_s,
        "(info) building and rendering prompts (event loop; none when a forked child renders them)": cold_spent.get("render", 0.0),
        "(info) validating answers (event loop)": cold_spent.get("validate", 0.0),
        "(info) applying answers to their rows as they arrive (event loop)": cold_spent.get("apply", 0.0),
        "(info) garbage collector pauses": cold_spent.get("gc", 0.0),
        "(info) after the run: waiting for the documents cache written in the background": cold_spent.get("settle", 0.0),
        "(info) creating an SDK client (the import: only when the SDK serves the calls)": cold_spent.get("client", 0.0),
        "(info) CPU of this process during the run": cold_spent.get("client_cpu", 0.0),
        "(info) CPU of the fake API server answering": cold_spent.get("server_cpu", 0.0),
    })
    details = {
        "eval_draft_ahead": cold_spent.get("ahead_outcome", "not forked"),
        "calls": cold_calls["_requests"], "concurrency": CONCURRENCY, "latency_s": LATENCY_S,
        "cold_s": round(cold_s, 3), "ideal_s": round(ideal, 3),
        "cold_over_ideal": round(cold_s / ideal, 3) if ideal else None,
        "warm_s": round(warm_s, 3), "warm_calls": warm_calls["_requests"],
        "warm_over_cold": round(warm_s / cold_s, 4) if cold_s else None,
        "api_latency_sum_s": round(cold_spent.get("api", 0.0), 3),
        "stages": stage_details,
        "gap_s": {k: round(v, 2) for k, v in gap.items()},
        "prompt_tokens_max": max(tokens, default=0),
        "prompt_tokens_median": int(statistics.median(tokens)) if tokens else 0,
    }
    # The aims: the wall against the ideal, and a rerun answered wholly from the cache. The
    # rerun's time (rendering every document again, no call) has none: it is shown as it is.
    met = (details["cold_over_ideal"] is not None and details["cold_over_ideal"] <= AIM_COLD_OVER_IDEAL
           and details["warm_calls"] == 0)
    note = (f"{details['calls']} calls, cold {cold_s:.1f}s vs ideal {ideal:.1f}s "
            f"(x{details['cold_over_ideal']}), warm {warm_s:.2f}s with {details['warm_calls']} calls "
            f"({100 * (details['warm_over_cold'] or 0):.0f} % of cold, no aim), "
            f"prompt tokens max {details['prompt_tokens_max']} / median {details['prompt_tokens_median']}"
            f" [{'aims met' if met else 'aims MISSED'}]")
    note += f"; eval draft made ahead: {details['eval_draft_ahead']}"
    note += "; where the wall goes: " + ", ".join(f"{k} {v:.1f}s" for k, v in gap.items())
    return PhaseResult(name=name, seconds=cold_s, items=details["calls"], unit="calls", note=note, details=details)


def breakdown(timeline: list[tuple[str, float, float]], wall: float, width: int,
              latency: float) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Where the wall goes, from every API call's (stage, start, end).

    The rows without ``(info)`` add up to ``wall``: the time before the first call, then per
    stage its ideal (``ceil(calls / width) × latency``) and what its span took beyond it, the
    gap between the stages, and the time after the last answer. A stage's excess splits
    exactly (``span × width`` = the calls' latencies + the slot-seconds no call used):

    - *calls slower than the latency*: ``calls × (mean latency − latency) / width``, the
      client not reading answers as they arrive (a busy event loop), or the server;
    - *pipe not full*: slot-seconds idle before the stage's last call went out, ÷ width
      (prompts not ready in time, a barrier, head-of-line blocking);
    - *tail*: slot-seconds idle after the last call went out, ÷ width, less the idle time the
      ideal has too (a last round that is not full).
    """
    gap: dict[str, float] = {}
    details: dict[str, dict[str, float]] = {}
    stages: list[str] = []
    for stage, _, _ in sorted(timeline, key=lambda c: c[1]):
        if stage not in stages:
            stages.append(stage)
    if not stages:
        return {"no API calls (all cached)": wall}, details
    cursor = 0.0
    for n, stage in enumerate(stages):
        calls = [(s, e) for st, s, e in timeline if st == stage]
        first, last_start = min(s for s, _ in calls), max(s for s, _ in calls)
        last_end = max(e for _, e in calls)
        if n == 0:
            gap["before the first call (document key + offline policy draft + first prompt)"] = first
        else:
            gap[f"between the stages: before the first {stage} call (merge + eval draft or the wait for the one made ahead + prompts)"] = first - cursor
        ideal = math.ceil(len(calls) / width) * latency
        span = last_end - first
        mean = sum(e - s for s, e in calls) / len(calls)
        slow = len(calls) * (mean - latency) / width
        idle_before = _idle(calls, first, last_start, width)
        tail = _idle(calls, last_start, last_end, width) - (ideal - len(calls) * latency / width)
        gap[f"{stage} calls: ideal ({len(calls)} calls)"] = ideal
        gap[f"{stage} calls: slower than {int(latency * 1000)} ms (mean {mean * 1000:.0f} ms)"] = slow
        gap[f"{stage} calls: pipe not full while prompts remained"] = idle_before
        gap[f"{stage} calls: tail after the last call went out"] = tail
        details[stage] = {"calls": len(calls), "span_s": round(span, 3), "ideal_s": round(ideal, 3),
                          "mean_latency_s": round(mean, 4), "first_call_s": round(first, 3),
                          "last_answer_s": round(last_end, 3)}
        cursor = last_end
    gap["after the last answer (merge + cache write)"] = wall - cursor
    return gap, details


def _idle(calls: list[tuple[float, float]], lo: float, hi: float, width: int) -> float:
    """Slot-seconds in [lo, hi] with fewer than ``width`` calls in flight, divided by ``width``."""
    events = sorted([(s, 1) for s, _ in calls] + [(e, -1) for _, e in calls])
    inflight, prev, idle = 0, lo, 0.0
    for t, d in events:
        a, b = max(prev, lo), min(t, hi)
        if b > a:
            idle += max(0, width - inflight) * (b - a)
        inflight += d
        prev = max(prev, t)
    if hi > prev:
        idle += max(0, width - inflight) * (hi - max(prev, lo))
    return idle / width


def _instrument(ref, spent: dict[str, float], calls: list[tuple[str, float, float]],  # type: ignore[no-untyped-def]
                t0: float):
    """Time the offline drafters, prompt building + rendering, answer validation and every API
    call of this one run (bench only); returns a function that undoes the module patches.

    Wraps bound methods of this one refiner, the functions it is handed and, for the run's
    length, the pipeline's two drafters, so the code under test is unchanged.
    """
    import generators.pipeline as pipeline

    def add(key: str, dt: float) -> None:
        spent[key] = spent.get(key, 0.0) + dt

    def timed(fn, key: str):  # type: ignore[no-untyped-def]
        def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                add(key, time.perf_counter() - t)
        return wrapper

    run = ref._run

    def stage(document, plan, render, validator, on_answer=None):  # type: ignore[no-untyped-def]
        from generators.llm.slices import PlannedSlice

        # Building a slice happens just before rendering it: both count as rendering.
        plan = [PlannedSlice(p.key, p.system_id, p.size, timed(p.build, "render")) for p in plan]
        return timed(run, "stages")(document, plan, timed(render, "render"), timed(validator, "validate"),
                                    timed(on_answer, "apply") if on_answer is not None else None)

    ref._run = stage
    complete = ref.provider.complete

    async def api(req):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return await complete(req)
        finally:
            end = time.perf_counter()
            add("api", end - t)
            calls.append((req.key.split(":")[0], t - t0, end - t0))

    ref.provider.complete = api
    if hasattr(ref.provider, "_new_client"):  # the SDK import and client, on the first call of each stage
        ref.provider._new_client = timed(ref.provider._new_client, "client")
    import gc

    gc_start: list[float] = []

    def on_gc(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            gc_start[:] = [time.perf_counter()]
        elif gc_start:
            add("gc", time.perf_counter() - gc_start[0])

    gc.callbacks.append(on_gc)
    # The eval draft made ahead: how long the run waited for the child, and whether it was used.
    from inventory import forked

    take, start = forked.Forked.take, forked.start

    def timed_take(self):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        value = take(self)
        add("ahead_wait", time.perf_counter() - t)
        spent["ahead_outcome"] = "used" if value is not None else "failed (drafted inline)"  # type: ignore[assignment]
        return value

    def counted_start(fn, **kw):  # type: ignore[no-untyped-def]
        job = start(fn, **kw)
        # The run's first fork is the eval draft made ahead (the documents cache forks later).
        spent.setdefault("ahead_outcome", "not read (the refinement changed more than prose)"  # type: ignore[arg-type]
                         if job else "not forked")
        return job

    forked.Forked.take = timed_take  # type: ignore[method-assign]
    forked.start = counted_start
    saved = {name: getattr(pipeline, name) for name in ("draft_policy", "draft_evals")}
    for name, fn in saved.items():
        setattr(pipeline, name, timed(fn, name))

    def undo() -> None:
        gc.callbacks.remove(on_gc)
        forked.Forked.take, forked.start = take, start  # type: ignore[method-assign]
        for name, fn in saved.items():
            setattr(pipeline, name, fn)

    return undo


def _cpu_self() -> float:
    """User + system CPU seconds of this process so far."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0 when it cannot be read)."""
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except Exception:  # noqa: BLE001 - a missing figure, not a failed phase
        return 0.0
