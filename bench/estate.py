"""Estate figures per corpus: resolved environments, resolved runbook commands, cold scan vs floor.

``.venv/bin/python bench/estate.py [CORPUS_DIR...]`` (default: every folder in ../shared/corpora).
For each source it prints: entities with a resolved environment / all entities, runbook
command sightings whose actions resolved to an entity / all runbook sightings, and the cold
scan time (no cache, 1 process) against the parse floor (walk + read + YAML parse, 1 process),
and the resolve stage's share of it. CI workflow jobs and Terraform module calls are left
out of the environment share (they run nowhere by themselves).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from worker import list_scan_files, read_and_parse  # noqa: E402

from inventory.scan import scan_paths  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def figures(root: Path) -> dict[str, object]:
    """The figures for one source directory."""
    t0 = time.perf_counter()
    read_and_parse(list_scan_files([str(root)]))
    floor = time.perf_counter() - t0
    import inventory.resolve as resolve_pkg

    spent = [0.0]
    original = resolve_pkg.resolve_environments

    def timed(*args, **kwargs):  # the resolve stage's own share of the cold scan
        t = time.perf_counter()
        original(*args, **kwargs)
        spent[0] += time.perf_counter() - t

    resolve_pkg.resolve_environments = timed
    try:
        t0 = time.perf_counter()
        inv, _ = scan_paths([root], use_cache=False, jobs=1)
        cold = time.perf_counter() - t0
    finally:
        resolve_pkg.resolve_environments = original
    # CI workflow jobs and Terraform module calls run nowhere by themselves: not counted.
    ents = [e for e in (*inv.components, *inv.resources)
            if (e.subtype or "") not in ("github-actions", "terraform-module")]
    resolved = [e for e in ents if e.environments]
    sightings: dict[tuple[str, int, str], bool] = {}
    for act in inv.actions:
        if act.origin != "command":
            continue
        for ref in act.commands:
            key = (ref.evidence.path, ref.evidence.line, ref.command)
            if not ref.evidence.path.lower().endswith((".md", ".markdown", ".rst", ".adoc", ".txt")):
                continue
            sightings[key] = sightings.get(key, False) or act.target is not None
    unresolved = getattr(inv, "unresolved", None)
    return {
        "entities": len(ents),
        "env_resolved": len(resolved),
        "runbook_commands": len(sightings),
        "runbook_resolved": sum(sightings.values()),
        "cold_s": cold,
        "floor_s": floor,
        "resolve_s": spent[0],
        "question": bool(unresolved and getattr(unresolved, "entities", None)),
    }


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or sorted(p for p in CORPORA.iterdir() if p.is_dir())
    print(f"{'corpus':45} {'env resolved':>16} {'runbook cmds -> system':>24} {'cold s':>7} {'floor s':>7} "
          f"{'ratio':>6} {'resolve s':>9}")
    for root in roots:
        f = figures(root)
        ents, res = f["entities"], f["env_resolved"]
        cmds, cres = f["runbook_commands"], f["runbook_resolved"]
        env_share = f"{res}/{ents} {100 * res / ents:.0f}%" if ents else "-"
        cmd_share = f"{cres}/{cmds} {100 * cres / cmds:.0f}%" if cmds else "-"
        print(f"{root.name:45} {env_share:>16} {cmd_share:>24} {f['cold_s']:7.2f} {f['floor_s']:7.2f} "
              f"{f['cold_s'] / max(f['floor_s'], 1e-6):6.1f} {f['resolve_s']:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
