"""The scan's pure-Python modules, compiled to C with Cython where the install can.

A cold scan is Python over tens of thousands of files and the models made from them, on
both cores and then on one (the whole-tree steps). Compiled by Cython from the very same
source, without a line of it changed or a type declared, that Python runs ~8 % faster at
2,000 services (``make bench``). Nothing else differs: the scan's output and stored forms
are byte for byte those of the pure-Python modules, and any module may run either way.

What is compiled
    :data:`MODULES`, every module of the package but those in :data:`NOT_COMPILED` (each
    with the reason). Pydantic cannot read a model class whose methods are compiled, so the
    modules that define models stay Python.

How
    ``python -m inventory.compiled build`` (``make`` runs it before the jobs that scan)
    compiles each listed module whose compiled form is missing or not of its current
    source, beside the source: the import system prefers an extension module to a ``.py``
    of the same name. A manifest records the source each was compiled from. Without Cython
    or a C compiler it says so and compiles nothing; everything runs as Python.

When a compiled module is used
    Only while its source is the one it was compiled from: the guard (:mod:`inventory._guard`,
    installed by the package's ``__init__``) has an edited module, or a compiled file the
    manifest does not list, imported from its source until the next build.
    ``STACKPOLICY_PURE_PYTHON=1`` imports every module from its source (to profile the scan's
    Python, or to compare).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from inventory._guard import (MANIFEST, PACKAGE, PACKAGE_DIR, PURE_ENV, SUFFIXES, Entry, entry_for, is_current,
                              pure_wanted, read_manifest, sha256_of, write_manifest)

# Where the C sources Cython writes are kept between builds (git-ignored).
BUILD_DIR = Path(PACKAGE_DIR).parent / "build" / "compiled"

MODULES: tuple[str, ...] = (
    "inventory.actions",
    "inventory.aliases",
    "inventory.awaited",
    "inventory.builder",
    "inventory.commands.lexer",
    "inventory.commands.options",
    "inventory.commands.reading",
    "inventory.commands.ruby",
    "inventory.commands.shell",
    "inventory.commands.sql",
    "inventory.commands.tools.cloud",
    "inventory.commands.tools.data",
    "inventory.commands.tools.kafka",
    "inventory.commands.tools.kubernetes",
    "inventory.commands.tools.ops",
    "inventory.commands.tools.system",
    "inventory.commands.verbs",
    "inventory.dataclasses",
    "inventory.environments",
    "inventory.forked",
    "inventory.ids",
    "inventory.io",
    "inventory.kinds",
    "inventory.kubesession",
    "inventory.operated",
    "inventory.overrides",
    "inventory.perenv",
    "inventory.references",
    "inventory.resolve._commands",
    "inventory.resolve.argocd",
    "inventory.resolve.base",
    "inventory.resolve.compose",
    "inventory.resolve.config",
    "inventory.resolve.flux",
    "inventory.resolve.kubecontext",
    "inventory.resolve.paths",
    "inventory.resolve.stated",
    "inventory.resolve.terraform",
    "inventory.resolve.tfvarfile",
    "inventory.resolve.tfworkspace",
    "inventory.scanfile",
    "inventory.scanners._cmdtext",
    "inventory.scanners._common",
    "inventory.scanners._hcl",
    "inventory.scanners._markdown",
    "inventory.scanners._sessions",
    "inventory.scanners._yaml",
    "inventory.scanners.backstage",
    "inventory.scanners.catalog",
    "inventory.scanners.codeowners",
    "inventory.scanners.compose",
    "inventory.scanners.envfiles",
    "inventory.scanners.github_actions",
    "inventory.scanners.helm",
    "inventory.scanners.helmfile",
    "inventory.scanners.kubernetes",
    "inventory.scanners.kustomize",
    "inventory.scanners.openapi",
    "inventory.scanners.readme",
    "inventory.scanners.runbooks",
    "inventory.scanners.shell",
    "inventory.scanners.terraform",
    "inventory.scripts",
    "inventory.scrubjudge",
    "inventory.secrets",
    "inventory.store",
    "inventory.tfroots",
    "inventory.units",
    "inventory.yamlout",
)

# Every other module of the package, and why it stays Python (a new module must be put in
# one list or the other: tests/test_compiled.py checks).
NOT_COMPILED: dict[str, str] = {
    "inventory": "a package's __init__: run once, and it installs the guard",
    "inventory._guard": "the guard: it runs before anything compiled is imported",
    "inventory.commands": "a package's __init__",
    "inventory.commands.tools": "a package's __init__",
    "inventory.data": "a package's __init__ (data files only)",
    "inventory.resolve": "a package's __init__",
    "inventory.scanners": "a package's __init__",
    "inventory.compiled": "this module: the build, run by make",
    "inventory.judgeserve": "the scrub judge's loop over a few hundred chunks: its time is in inventory.secrets",
    "inventory.model": "defines pydantic models",
    "inventory.config": "defines pydantic models",
    "inventory.commands.model": "defines pydantic models",
    "inventory.scanners.base": "defines pydantic models",
    "inventory.scan": ("no measurable gain (its time is in what it calls), and it deletes variables its "
                       "nested functions read, which Cython does not compile"),
}

# Cython's options: Python's own semantics (annotations are not read as C types), functions
# that bind as methods and introspect as Python's do.
_CYTHON_OPTIONS = ("-3", "-X", "annotation_typing=False", "-X", "binding=True", "-X", "language_level=3")
_CFLAGS = ("-O2", "-fwrapv", "-DNDEBUG", "-fPIC", "-shared")


def source_of(module: str, package_dir: str = PACKAGE_DIR, package: str = PACKAGE) -> str:
    """The ``.py`` file of ``module`` (a dotted name under ``package``)."""
    return os.path.join(package_dir, *module[len(package) + 1:].split(".")) + ".py"


def compiled_of(module: str, package_dir: str = PACKAGE_DIR, package: str = PACKAGE) -> str:
    """Where the compiled ``module`` goes: beside its source, with this interpreter's suffix."""
    return os.path.join(package_dir, *module[len(package) + 1:].split(".")) + SUFFIXES[0]


def status() -> dict[str, str]:
    """Each listed module's state: ``compiled`` (in use, or used when imported), ``pure``
    (:data:`PURE_ENV` set), ``stale`` (its source changed since the build), ``not built``."""
    pure = pure_wanted()
    manifest = read_manifest()
    out: dict[str, str] = {}
    for module in MODULES:
        entry = manifest.get(module)
        if entry is None or not os.path.isfile(compiled_of(module)):
            out[module] = "not built"
        elif not is_current(entry, source_of(module), compiled_of(module)):
            out[module] = "stale"
        else:
            out[module] = "pure" if pure else "compiled"
    return out


def summary() -> str:
    """One line on what runs compiled (for ``make bench`` and the build's last line)."""
    states = status()
    n = sum(1 for s in states.values() if s == "compiled")
    if n == len(states):
        return f"compiled modules: all {n} in use"
    counts = {s: sum(1 for v in states.values() if v == s) for s in sorted(set(states.values()))}
    why = ", ".join(f"{k} {v}" for k, v in counts.items())
    return f"compiled modules: {n} of {len(states)} in use ({why}); the rest run as Python"


def _compile_one(module: str, source: str, target: str, build_dir: Path, tools: tuple[list[str], list[str], str],
                 ) -> str | None:
    """Compile ``module`` from ``source`` into ``target``: its C source into ``build_dir``, the
    extension put in place whole (under a temporary name first). ``None`` on success, else
    what went wrong."""
    import subprocess

    cython, cc, include = tools
    c_file = str(build_dir / f"{module}.c")
    done = subprocess.run([*cython, *_CYTHON_OPTIONS, "--module-name", module, source, "-o", c_file],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip()[-2000:] or "cython failed"
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{os.getpid()}.tmp")
    done = subprocess.run([*cc, *_CFLAGS, f"-I{include}", c_file, "-o", tmp], capture_output=True, text=True)
    if done.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        return (done.stderr or done.stdout).strip()[-2000:] or "the C compiler failed"
    os.replace(tmp, target)
    return None


def _toolchain() -> tuple[list[str], list[str], str] | str:
    """(cython command, C compiler command, Python's include dir), or why there is none."""
    import importlib.util
    import shutil
    import sysconfig

    if importlib.util.find_spec("Cython") is None:
        return "Cython is not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    if shutil.which(cc[0]) is None:
        return f"no C compiler ({cc[0]})"
    include = sysconfig.get_paths()["include"]
    if not os.path.isfile(os.path.join(include, "Python.h")):
        return f"Python's headers are missing ({include})"
    return [sys.executable, "-m", "cython"], cc, include


def build(jobs: int | None = None, force: bool = False, verbose: bool = False, *,
          modules: tuple[str, ...] = MODULES, package: str = PACKAGE, package_dir: str = PACKAGE_DIR,
          manifest_path: str = MANIFEST, build_dir: Path = BUILD_DIR) -> int:
    """Compile the listed modules not compiled from their current source (``force``: all).

    Returns an exit code: 0 when everything is compiled or there is no toolchain (then it
    says so: everything runs as Python), 1 when a module failed to compile (it stays
    Python; the message says which and why). The keyword arguments name another package's
    modules (the tests build one of their own).
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    tools = _toolchain()
    if isinstance(tools, str):
        print(f"compiled modules: not built ({tools}); the scan runs as pure Python")
        return 0
    manifest = read_manifest(manifest_path)

    def src(m: str) -> str:
        return source_of(m, package_dir, package)

    def out(m: str) -> str:
        return compiled_of(m, package_dir, package)

    # Modules no longer listed: their compiled files go with their entries.
    for module in sorted(set(manifest) - set(modules)):
        Path(out(module)).unlink(missing_ok=True)
        del manifest[module]
    todo = [m for m in modules if force or m not in manifest or not is_current(manifest[m], src(m), out(m))]
    if not todo:
        write_manifest(manifest, manifest_path)
        print(summary() if package == PACKAGE else f"compiled modules: all {len(modules)} in use")
        return 0
    build_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs or os.cpu_count() or 1)
    print(f"compiling {len(todo)} module{'s' if len(todo) != 1 else ''} with Cython ({jobs} at a time); "
          "until each is done it runs as Python", flush=True)
    t0 = time.perf_counter()
    failed: dict[str, str] = {}

    def one(module: str) -> tuple[str, Entry | None, str | None]:
        source = src(module)
        # The source as it was read here is what the manifest says was compiled: it must not
        # have changed by the time the compiler is done.
        digest = sha256_of(source)
        error = _compile_one(module, source, out(module), build_dir, tools)  # type: ignore[arg-type]
        if error is None and sha256_of(source) != digest:
            error = "the source changed while it was compiled; build again"
        if error is not None:
            return module, None, error
        return module, entry_for(source, out(module), digest), None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (module, entry, error) in enumerate(pool.map(one, todo), 1):
            if entry is not None:
                manifest[module] = entry
            else:
                manifest.pop(module, None)
                failed[module] = error or "?"
            if verbose:
                print(f"  [{i}/{len(todo)}] {module}: {'ok' if error is None else 'FAILED'}", flush=True)
    write_manifest(manifest, manifest_path)
    for module, error in failed.items():
        print(f"compiled modules: {module} failed to compile and runs as Python:\n{error}", file=sys.stderr)
    done = summary() if package == PACKAGE else f"compiled modules: {len(modules) - len(failed)} of {len(modules)}"
    print(f"{done} (built in {time.perf_counter() - t0:.0f} s)")
    return 1 if failed else 0


def clean() -> int:
    """Remove every compiled module and the manifest: everything runs as Python."""
    import shutil

    for module in set(MODULES) | set(read_manifest()):
        Path(compiled_of(module)).unlink(missing_ok=True)
    Path(MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    print("compiled modules: removed; the scan runs as pure Python")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m inventory.compiled build|status|clean``."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m inventory.compiled",
        description="Compile the scan's pure-Python modules with Cython (the same source and results, faster), "
                    "or say which are in use. An edited module runs from its source until it is built again; "
                    f"{PURE_ENV}=1 runs every module from its source.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="compile the modules not compiled from their current source")
    b.add_argument("--jobs", "-j", type=int, default=None, help="compilers run at once (default: one per core)")
    b.add_argument("--force", action="store_true", help="compile every module again")
    b.add_argument("--verbose", "-v", action="store_true", help="a line per module compiled")
    sub.add_parser("status", help="each module: compiled, stale, not built or pure")
    sub.add_parser("clean", help="remove the compiled modules and the manifest")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        return build(args.jobs, args.force, args.verbose)
    if args.cmd == "clean":
        return clean()
    for module, state in status().items():
        print(f"{state:10} {module}")
    print(summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
