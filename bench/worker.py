"""Child side of one benchmark measurement: ``python bench/worker.py <task> '<json args>'``.

Each measurement runs in its own process so its peak RSS is its own (the runner never
imports the scanners itself). The child prints one JSON object on its last stdout line:
``seconds`` (the timed section only, after imports), ``files``, ``rss_self_kb`` and
``rss_children_kb`` (``ru_maxrss`` of this process and of its largest waited-for child, e.g.
a scan pool worker), plus task-specific fields.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# The code measured is the checkout this file is in, not whatever the environment installed
# (an editable install points at one checkout; a second worktree would measure that one).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

YAML_SUFFIXES = (".yaml", ".yml")


def _is_helm_template(relpath: str) -> bool:
    # Go templates are not YAML before rendering; no YAML scanner parses them either.
    return "/templates/" in f"/{relpath}"


def list_scan_files(paths: list[str]) -> list[tuple[str, str]]:
    """``(abspath, relpath)`` of every file the scan walks, using the scan's own walker."""
    from inventory.config import Config
    from inventory.scan import ScanStats, iter_files

    roots = [Path(p).resolve() for p in paths]
    return [(str(j.abspath), j.relpath) for j in iter_files(roots, Config(), ScanStats())]


def read_and_parse(files: list[tuple[str, str]]) -> dict[str, int]:
    """The parse floor's unit of work: read, decode, and parse YAML with libyaml."""
    import yaml

    loader = yaml.CSafeLoader
    n_bytes = n_docs = n_yaml = n_errors = 0
    for abspath, rel in files:
        with open(abspath, "rb") as fh:
            data = fh.read()
        n_bytes += len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if rel.endswith(YAML_SUFFIXES) and not _is_helm_template(rel):
            n_yaml += 1
            try:
                n_docs += sum(1 for _ in yaml.load_all(text, Loader=loader))
            except yaml.YAMLError:
                n_errors += 1
    return {"bytes": n_bytes, "docs": n_docs, "yaml_files": n_yaml, "yaml_errors": n_errors}


def task_floor(args: dict[str, Any]) -> dict[str, Any]:
    """Parse floor: walk as the scan does, read every file, parse every YAML file.

    ``procs`` > 1 splits the file list round-robin over a process pool (fork), which is the
    fair floor for a scan that uses that many cores.
    """
    procs = int(args.get("procs", 1))
    t0 = time.perf_counter()
    files = list_scan_files(args["paths"])
    if procs <= 1:
        totals = read_and_parse(files)
    else:
        chunks = [files[i::procs] for i in range(procs)]
        with get_context("fork").Pool(procs) as pool:
            parts = pool.map(read_and_parse, chunks)
        totals = {k: sum(p[k] for p in parts) for k in parts[0]}
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "files": len(files), **totals}


def task_scan(args: dict[str, Any]) -> dict[str, Any]:
    """One ``scan_paths`` call (cold or warm depending on the cache directory's state)."""
    from inventory.config import Config
    from inventory.scan import scan_paths

    t0 = time.perf_counter()
    cpu0 = os.times()
    inv, stats = scan_paths(
        args["paths"], Config(), use_cache=True, cache_dir=Path(args["cache_dir"]), jobs=args.get("jobs")
    )
    seconds = time.perf_counter() - t0
    cpu = os.times()
    return {
        "seconds": seconds,
        # Where the time went: wall seconds per stage, and the CPU of this process and of the
        # scan's workers (children, once the pool has been shut down and waited for).
        "stages": stats.stages,
        "cpu_main_s": (cpu.user - cpu0.user) + (cpu.system - cpu0.system),
        "cpu_workers_s": (cpu.children_user - cpu0.children_user) + (cpu.children_system - cpu0.children_system),
        "files": stats.files_seen,
        "files_scanned": stats.files_scanned,
        "cache_hits": stats.cache_hits,
        "bytes": stats.bytes_read,
        "components": len(inv.components),
        "resources": len(inv.resources),
        "edges": len(inv.edges),
        "actions": len(inv.actions),
        "secrets": len(inv.secrets),
        "warnings": len(inv.warnings),
        "digest": inv.digest(),
    }


def task_profile(args: dict[str, Any]) -> dict[str, Any]:
    """A cold scan in ONE process under cProfile; writes the stats file and a summary."""
    import cProfile
    import pstats

    from inventory.config import Config
    from inventory.scan import scan_paths

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    scan_paths(args["paths"], Config(), use_cache=False, jobs=1)
    prof.disable()
    seconds = time.perf_counter() - t0
    prof.dump_stats(args["out"])
    return {"seconds": seconds, "files": 0, "stats_file": args["out"], "summary": summarize_profile(pstats.Stats(prof))}


def summarize_profile(stats: Any, top: int = 8) -> dict[str, list[dict[str, Any]]]:
    """Per-module hotspots: inclusive time of the slowest functions in each of our modules.

    Keys are module labels (``inventory/scanners/k8s.py``, ``inventory/scan.py`` ...,
    ``third-party`` for everything else); values are the ``top`` functions by cumulative time.
    """
    by_module: dict[str, list[dict[str, Any]]] = {}
    module_total: dict[str, float] = {}
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        label = _module_label(filename)
        module_total[label] = module_total.get(label, 0.0) + tottime
        by_module.setdefault(label, []).append(
            {"function": f"{func} ({Path(filename).name}:{line})", "calls": ncalls,
             "self_s": round(tottime, 3), "cum_s": round(cumtime, 3)}
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for label in sorted(module_total, key=lambda k: -module_total[k]):
        rows = sorted(by_module[label], key=lambda r: -r["cum_s"])[:top]
        out[f"{label} (self {module_total[label]:.2f}s)"] = rows
    return out


def _module_label(filename: str) -> str:
    """Our files by repo path (``inventory/scanners/kubernetes.py``); others by package."""
    parts = Path(filename).parts
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            i = parts.index(anchor)
            pkg = parts[i + 1] if i + 1 < len(parts) else "?"
            return f"{pkg.removesuffix('.py').split('-')[0]} (third-party)"
    for anchor in ("inventory", "generators"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[i:])
    return "stdlib/builtins"


def task_document_stats(args: dict[str, Any]) -> dict[str, Any]:
    """Sizes of a generated ``policy.md`` (``generators.documents.audit.document_stats``).

    Run here rather than in the runner because loading a 2,000-service policy.yaml takes the
    runner to ~1 GB, and every later phase forked from it would inherit that figure as its
    ``ru_maxrss`` (Linux carries the parent's size across fork + exec).
    """
    from dataclasses import asdict

    from generators.documents.audit import document_stats

    t0 = time.perf_counter()
    try:
        stats = asdict(document_stats(args["out"]))
    except (OSError, ValueError) as exc:
        return {"seconds": time.perf_counter() - t0, "files": 0, "error": str(exc)}
    return {"seconds": time.perf_counter() - t0, "files": 1, "stats": stats}


TASKS = {"floor": task_floor, "scan": task_scan, "profile": task_profile, "document_stats": task_document_stats}


def main(argv: list[str]) -> int:
    """Run one task and print its JSON result as the last stdout line."""
    task, args = argv[0], json.loads(argv[1])
    result = TASKS[task](args)
    result["rss_self_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["rss_children_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
