"""Benchmark phase: LLM generation against the local scripted server with fixed latency.

Measures, on the synthetic repo: cold generation wall time versus the ideal
``ceil(calls / concurrency) × latency`` per document stage (policy, then evals: the eval
prompts need the refined policy), a warm rerun (aim: zero calls, < 5 % of cold), and
prompt tokens per call (max, median). Runs in-process: the server is a thread, and the
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
AIM_WARM_OVER_COLD = 0.05


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

            def generate() -> tuple[float, dict[str, int], LLMRefiner]:
                ref = refiner()
                spent.clear()
                _instrument(ref, spent)
                t0 = time.perf_counter()
                stage_calls: dict[str, int] = {}
                draft_documents(inv, assessments, cfg, provider=ref)
                elapsed = time.perf_counter() - t0
                for rec in ref.log.records:
                    if not rec.cache_hit:
                        stage = rec.key.split(":")[0]
                        stage_calls[stage] = stage_calls.get(stage, 0) + 1
                stage_calls["_requests"] = sum(1 for r in ref.log.records if not r.cache_hit)
                return elapsed, stage_calls, ref

            cpu0, srv0 = _cpu_self(), _cpu_of(server.pid)
            cold_s, cold_calls, _ = generate()
            cold_spent = dict(spent)
            cold_spent["client_cpu"], cold_spent["server_cpu"] = _cpu_self() - cpu0, _cpu_of(server.pid) - srv0
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
    # Where the wall goes beyond the ideal (seconds of this run; ideal = API latency only).
    stages = cold_spent.get("stages", 0.0)
    loop_cpu = cold_spent.get("render", 0.0) + cold_spent.get("validate", 0.0)
    gap = {
        "outside the LLM stages (offline draft, slicing, merge)": max(0.0, cold_s - stages),
        "  of which the offline draft alone": offline_s,
        "rendering prompts (event loop)": cold_spent.get("render", 0.0),
        "validating answers (event loop)": cold_spent.get("validate", 0.0),
        "stage time beyond ideal + render + validate (waits, client, scheduling)": max(0.0, stages - ideal - loop_cpu),
        "  CPU of this process during the run (all of it)": cold_spent.get("client_cpu", 0.0),
        "  CPU of the fake API server answering": cold_spent.get("server_cpu", 0.0),
        "  mean seconds per API call (300 ms asked)": cold_spent.get("api", 0.0) / max(1, cold_calls["_requests"]),
    }
    details = {
        "calls": cold_calls["_requests"], "concurrency": CONCURRENCY, "latency_s": LATENCY_S,
        "cold_s": round(cold_s, 3), "ideal_s": round(ideal, 3),
        "cold_over_ideal": round(cold_s / ideal, 3) if ideal else None,
        "warm_s": round(warm_s, 3), "warm_calls": warm_calls["_requests"],
        "warm_over_cold": round(warm_s / cold_s, 4) if cold_s else None,
        "stage_wall_s": round(stages, 3), "api_latency_sum_s": round(cold_spent.get("api", 0.0), 3),
        "gap_s": {k: round(v, 2) for k, v in gap.items()},
        "prompt_tokens_max": max(tokens, default=0),
        "prompt_tokens_median": int(statistics.median(tokens)) if tokens else 0,
    }
    met = (details["cold_over_ideal"] is not None and details["cold_over_ideal"] <= AIM_COLD_OVER_IDEAL
           and details["warm_calls"] == 0 and (details["warm_over_cold"] or 0) <= AIM_WARM_OVER_COLD)
    note = (f"{details['calls']} calls, cold {cold_s:.1f}s vs ideal {ideal:.1f}s "
            f"(x{details['cold_over_ideal']}), warm {warm_s:.2f}s with {details['warm_calls']} calls, "
            f"prompt tokens max {details['prompt_tokens_max']} / median {details['prompt_tokens_median']}"
            f" [{'aims met' if met else 'aims MISSED'}]")
    note += "; gap: " + ", ".join(f"{k} {v:.1f}s" for k, v in gap.items())
    return PhaseResult(name=name, seconds=cold_s, items=details["calls"], unit="calls", note=note, details=details)


def _instrument(ref, spent: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    """Time the refiner's stages, prompt rendering, answer validation and API calls (bench only).

    Wraps bound methods of this one refiner and the validators it is handed, so the code under
    test is unchanged. Rendering and validation run on the event loop: while they run, no
    other answer is read and no other call goes out.
    """
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

    def stage(document, slices, render, validator):  # type: ignore[no-untyped-def]
        return timed(run, "stages")(document, slices, timed(render, "render"), timed(validator, "validate"))

    ref._run = stage
    complete = ref.provider.complete

    async def api(req):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return await complete(req)
        finally:
            add("api", time.perf_counter() - t)

    ref.provider.complete = api


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
