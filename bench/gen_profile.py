"""Offline generation by stage: ``python bench/gen_profile.py [--services N] [--profile]``.

Scans the synthetic repo of ``N`` services (``bench/synth.py``; the scan cache under
``bench/out/cache-n<N>`` makes later runs warm), then times each stage of
``stackpolicy policy`` with the offline provider in this one process: the decision table
(``assess``), the policy draft, the eval suite draft, and rendering + writing every file (review merge included). It
prints seconds per stage, the peak RSS, and the sizes of what was written. With ``--profile``
the stages after the scan run under cProfile: the top functions by cumulative and by own
time are printed and the profile is saved to ``bench/out/gen-n<N>.prof``
(``python -m pstats bench/out/gen-n<N>.prof``).

``make bench``'s ``offline`` phase measures the same work end to end (interpreter start, the
warm scan and the write included); this script says where that time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import shutil
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.synth import ensure_repo  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Time (and optionally profile) the stages of offline generation."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--profile", action="store_true", help="cProfile the stages after the scan")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args(argv)

    from generators.pipeline import assess, draft_documents, write_documents
    from inventory.config import Config
    from inventory.scan import scan_paths

    out = BENCH_DIR / "out"
    repo, n_files, _ = ensure_repo(args.services, args.seed, out)
    work = out / f"gen-profile-n{args.services}"
    cfg = Config()
    t0 = time.perf_counter()
    inv, _stats = scan_paths([str(repo)], cfg, use_cache=True, cache_dir=out / f"cache-n{args.services}")
    times = {"scan (cache)": time.perf_counter() - t0}
    rss_scan = _rss_mb()

    prof = cProfile.Profile() if args.profile else None

    def stage(name: str, fn):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        if prof is not None:
            prof.enable()
        try:
            return fn()
        finally:
            if prof is not None:
                prof.disable()
            times[name] = time.perf_counter() - t

    assessments = stage("decision table", lambda: assess(inv, cfg))
    policy, evals = stage("policy + evals draft", lambda: draft_documents(inv, assessments, cfg))
    shutil.rmtree(work, ignore_errors=True)  # a first generation: no reviewed files to merge
    written = stage("render + write", lambda: write_documents(policy, evals, work, inv=inv))

    total = sum(v for k, v in times.items() if k != "scan (cache)")
    print(f"{args.services} services, {n_files} files, {len(inv.actions)} actions")
    for k, v in times.items():
        print(f"  {k:<24} {v:8.2f} s")
    print(f"  {'generation (no scan)':<24} {total:8.2f} s")
    print(f"peak RSS {_rss_mb():.0f} MB (after scan {rss_scan:.0f} MB)")
    for path in written.paths:
        print(f"  {path.name:<16} {path.stat().st_size / 1024:10.1f} KB")
    if prof is not None:
        path = out / f"gen-n{args.services}.prof"
        prof.dump_stats(path)
        for key in ("cumulative", "tottime"):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(args.top)
            print(buf.getvalue())
        print(f"profile: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
