"""The compiled modules (inventory.compiled) and their guard (inventory._guard).

The guard's decisions are checked on files of a package of the test's own (a compiled file
there is any bytes: the guard only decides which file an import reads). The build is
checked by compiling a small package and importing it in a fresh interpreter, and the
scan by running it compiled and as Python: the same inventory and stored form.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

import inventory
from inventory import _guard, compiled
from inventory._guard import SUFFIXES, Entry, Guard, entry_for, read_manifest, sha256_of, write_manifest

REPO = Path(__file__).resolve().parents[1]
SUFFIX = SUFFIXES[0]


def _all_modules() -> set[str]:
    """Every module of the package with a Python source (not the C extensions)."""
    out = {"inventory"}
    for info in pkgutil.walk_packages(inventory.__path__, "inventory."):
        if info.ispkg or Path(compiled.source_of(info.name)).is_file():
            out.add(info.name)
    return out


def test_every_module_is_either_compiled_or_kept_as_python_with_a_reason() -> None:
    listed, kept = set(compiled.MODULES), set(compiled.NOT_COMPILED)
    assert not listed & kept
    assert len(compiled.MODULES) == len(listed)
    assert listed | kept == _all_modules()
    assert all(reason.strip() for reason in compiled.NOT_COMPILED.values())
    for module in listed:
        assert Path(compiled.source_of(module)).is_file(), module


def test_no_compiled_module_defines_a_pydantic_model() -> None:
    # Pydantic reads a model class's annotations and methods, which a compiled class holds
    # differently: a model defined in a compiled module fails to import.
    for module in compiled.MODULES:
        mod = importlib.import_module(module)
        own = [obj for obj in vars(mod).values()
               if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module]
        assert not own, (module, own)


def test_the_modules_kept_for_their_models_do_define_models() -> None:
    for module, reason in compiled.NOT_COMPILED.items():
        if "pydantic" in reason:
            mod = importlib.import_module(module)
            assert any(isinstance(o, type) and issubclass(o, BaseModel) and o.__module__ == module
                       for o in vars(mod).values()), module


def test_no_compiled_module_deletes_a_variable_a_nested_function_reads() -> None:
    # What Cython refuses to compile; caught here with a clear message instead of as a failed build.
    for module in compiled.MODULES:
        tree = ast.parse(Path(compiled.source_of(module)).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            inner = {n.id for sub in ast.walk(fn) if sub is not fn and isinstance(sub, (ast.FunctionDef, ast.Lambda))
                     for n in ast.walk(sub) if isinstance(n, ast.Name)}
            deleted = {t.id for d in ast.walk(fn) if isinstance(d, ast.Delete) for t in d.targets
                       if isinstance(t, ast.Name)}
            assert not deleted & inner, (module, fn.name, deleted & inner)


# -- the guard's decisions -------------------------------------------------------------------


@pytest.fixture()
def pkg(tmp_path: Path) -> Path:
    root = tmp_path / "pkgx"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "mod.py").write_text("VALUE = 1\n")
    (root / f"mod{SUFFIX}").write_bytes(b"compiled")
    (root / "plain.py").write_text("VALUE = 2\n")
    (root / f"_native{SUFFIX}").write_bytes(b"an extension with no source")
    return root


def _listed(root: Path, module: str = "pkgx.mod") -> dict[str, Entry]:
    rel = module.split(".", 1)[1].replace(".", "/")
    source, target = root / f"{rel}.py", root / f"{rel}{SUFFIX}"
    return {module: entry_for(str(source), str(target), sha256_of(str(source)))}


def _origin(guard: Guard, name: str) -> str | None:
    spec = guard.find_spec(name)
    return None if spec is None else Path(spec.origin).name


def test_a_module_compiled_from_its_source_as_it_is_is_left_to_the_usual_import(pkg: Path) -> None:
    guard = Guard("pkgx", str(pkg), _listed(pkg), pure=False)
    assert _origin(guard, "pkgx.mod") is None
    assert guard.from_source == []


def test_an_edited_module_is_imported_from_its_source(pkg: Path) -> None:
    manifest = _listed(pkg)
    (pkg / "mod.py").write_text("VALUE = 3\n")
    guard = Guard("pkgx", str(pkg), manifest, pure=False)
    assert _origin(guard, "pkgx.mod") == "mod.py"
    assert guard.from_source == ["pkgx.mod"]


def test_an_edit_of_the_same_size_within_the_same_mtime_tick_is_still_caught_by_its_content(pkg: Path) -> None:
    manifest = _listed(pkg)
    st = os.stat(pkg / "mod.py")
    (pkg / "mod.py").write_text("VALUE = 9\n")  # same size
    os.utime(pkg / "mod.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert _origin(Guard("pkgx", str(pkg), manifest, pure=False), "pkgx.mod") == "mod.py"


def test_a_touched_but_unchanged_source_keeps_its_compiled_module(pkg: Path) -> None:
    manifest = _listed(pkg)
    os.utime(pkg / "mod.py", ns=(1, 1))
    assert _origin(Guard("pkgx", str(pkg), manifest, pure=False), "pkgx.mod") is None


def test_a_compiled_file_replaced_since_the_build_is_not_used(pkg: Path) -> None:
    manifest = _listed(pkg)
    (pkg / f"mod{SUFFIX}").write_bytes(b"something else entirely")
    assert _origin(Guard("pkgx", str(pkg), manifest, pure=False), "pkgx.mod") == "mod.py"


def test_a_compiled_file_the_manifest_does_not_list_is_not_used(pkg: Path) -> None:
    assert _origin(Guard("pkgx", str(pkg), {}, pure=False), "pkgx.mod") == "mod.py"


def test_a_second_compiled_file_beside_it_means_the_source(pkg: Path) -> None:
    manifest = _listed(pkg)
    (pkg / "mod.so").write_bytes(b"an older build")
    assert _origin(Guard("pkgx", str(pkg), manifest, pure=False), "pkgx.mod") == "mod.py"


def test_pure_imports_every_compiled_module_from_its_source(pkg: Path) -> None:
    assert _origin(Guard("pkgx", str(pkg), _listed(pkg), pure=True), "pkgx.mod") == "mod.py"


def test_what_is_not_a_compiled_module_of_the_package_is_left_alone(pkg: Path) -> None:
    guard = Guard("pkgx", str(pkg), {}, pure=True)
    for name in ("pkgx.plain", "pkgx.sub", "pkgx._native", "pkgx.missing", "other.mod", "pkgx"):
        assert guard.find_spec(name) is None, name


def test_the_manifest_reads_back_what_was_written_and_nothing_it_cannot_read(pkg: Path) -> None:
    path = str(pkg / ".compiled-manifest")
    entries = _listed(pkg)
    write_manifest(entries, path)
    assert read_manifest(path) == entries
    text = Path(path).read_text()
    Path(path).write_text(text.replace(SUFFIX, ".cpython-399-other.so"))  # another interpreter's build
    assert read_manifest(path) == {}
    Path(path).write_text(text + "pkgx.broken\t1\n")
    assert read_manifest(path) == {}
    assert read_manifest(str(pkg / "absent")) == {}


def test_the_packages_guard_is_installed_first_and_imports_nothing_heavy() -> None:
    # `import inventory` is on the CLI's start and the hook's fallback: the guard reads its
    # manifest without json, pathlib, typing or hashlib (the last only for a touched source).
    code = ("import json, sys; before = set(sys.modules); import inventory, inventory._guard as g; "
            "print(json.dumps([sys.meta_path[0] is g._GUARD, sorted(set(sys.modules) - before)]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, new = json.loads(done.stdout)
    assert first is True
    assert not {"pathlib", "typing", "hashlib", "re", "json.decoder"} & set(new), new
    assert set(new) <= {"__future__", "warnings", "inventory", "inventory._guard"} | {
        m for m in new if m.startswith("importlib")}, new


# -- the build, and the scan compiled -------------------------------------------------------

needs_toolchain = pytest.mark.skipif(isinstance(compiled._toolchain(), str),
                                     reason=f"no toolchain to compile with: {compiled._toolchain()}")


def _import_in_fresh_process(root: Path, pure: bool = False) -> dict[str, str]:
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(root.parent)!r})
        from inventory._guard import Guard, read_manifest
        manifest = read_manifest({str(root / '.compiled-manifest')!r})
        sys.meta_path.insert(0, Guard("pkgx", {str(root)!r}, manifest, {pure}))
        import pkgx.mod as m
        print(json.dumps({{"file": m.__file__, "value": m.twice(21)}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@needs_toolchain
def test_a_built_module_is_imported_compiled_until_its_source_changes(tmp_path: Path) -> None:
    root = tmp_path / "pkgx"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "mod.py").write_text("def twice(x):\n    return 2 * x\n")
    kw = dict(modules=("pkgx.mod",), package="pkgx", package_dir=str(root),
              manifest_path=str(root / ".compiled-manifest"), build_dir=tmp_path / "build")
    assert compiled.build(jobs=1, **kw) == 0
    got = _import_in_fresh_process(root)
    assert got == {"file": str(root / f"mod{SUFFIX}"), "value": 42}
    assert _import_in_fresh_process(root, pure=True)["file"] == str(root / "mod.py")
    (root / "mod.py").write_text("def twice(x):\n    return 2 * x + 1\n")
    assert _import_in_fresh_process(root) == {"file": str(root / "mod.py"), "value": 43}
    assert compiled.build(jobs=1, **kw) == 0  # only what changed
    assert _import_in_fresh_process(root) == {"file": str(root / f"mod{SUFFIX}"), "value": 43}


@needs_toolchain
def test_a_module_that_fails_to_compile_is_reported_and_stays_python(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "pkgx"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "mod.py").write_text("def twice(x):\n    def inner():\n        return x\n    del x\n    return 2\n")
    rc = compiled.build(jobs=1, modules=("pkgx.mod",), package="pkgx", package_dir=str(root),
                        manifest_path=str(root / ".compiled-manifest"), build_dir=tmp_path / "build")
    assert rc == 1
    assert "pkgx.mod failed to compile and runs as Python" in capsys.readouterr().err
    assert not (root / f"mod{SUFFIX}").exists()
    assert read_manifest(str(root / ".compiled-manifest")) == {}


def test_without_a_toolchain_the_build_says_so_and_succeeds(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(compiled, "_toolchain", lambda: "Cython is not installed")
    assert compiled.build() == 0
    assert "not built (Cython is not installed); the scan runs as pure Python" in capsys.readouterr().out


def test_where_the_modules_were_built_every_one_of_them_was() -> None:
    # A module that fails to compile runs as Python and `make` goes on: this is where it shows.
    states = compiled.status()
    if isinstance(compiled._toolchain(), str) or "compiled" not in states.values():
        pytest.skip("the modules are not compiled here")
    if "stale" in states.values():
        pytest.skip("a module changed since the build (`make compiled` builds it again)")
    assert [m for m, s in states.items() if s != "compiled"] == []


def test_the_modules_in_use_are_the_ones_the_status_says() -> None:
    states = compiled.status()
    for module, state in states.items():
        mod = importlib.import_module(module)
        assert mod.__file__.endswith(SUFFIX) == (state == "compiled"), (module, state, mod.__file__)


_SCAN = textwrap.dedent("""
    import hashlib, json, sys, tempfile
    from pathlib import Path
    from inventory import store
    from inventory.scan import scan_paths
    import inventory.actions
    inv, _ = scan_paths([sys.argv[1]], cache_dir=Path(tempfile.mkdtemp()))
    print(json.dumps({"compiled": inventory.actions.__file__.endswith(".so"),
                      "inventory": hashlib.sha256(inv.model_dump_json().encode()).hexdigest(),
                      "stored": hashlib.sha256(b"".join(store.dump_parts(inv))).hexdigest(),
                      "actions": len(inv.actions)}))
""")


@pytest.mark.skipif(compiled.status().get("inventory.actions") != "compiled", reason="the modules are not compiled")
def test_a_scan_compiled_and_a_scan_in_python_give_the_same_inventory_and_stored_form() -> None:
    target = str(REPO / "examples")
    runs = {}
    for pure in (False, True):
        env = {**os.environ, _guard.PURE_ENV: "1" if pure else "0"}
        done = subprocess.run([sys.executable, "-c", _SCAN, target], capture_output=True, text=True, env=env,
                              check=True, cwd=REPO)
        runs[pure] = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs[False].pop("compiled") is True and runs[True].pop("compiled") is False
    assert runs[False] == runs[True]
    assert runs[False]["actions"] > 0


def test_the_digest_helper_hashes_the_bytes(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_bytes(b"abc")
    assert sha256_of(str(f)) == hashlib.sha256(b"abc").hexdigest()


def test_scanning_files_and_parsing_their_commands_leave_no_garbage_for_the_collector() -> None:
    # Compiled, a nested function holds the whole scope of the function it is in: two nested
    # functions that call each other make a cycle holding everything the call made (a
    # runbook's whole scan), which only the collector frees; a scan worker runs it rarely.
    # Scanning and parsing make none, compiled or not.
    import gc

    from inventory.actions import parse_sightings
    from inventory.config import Config
    from inventory.scan import ScanStats, _read_and_scan, scan_config_json, walk_files

    cfg = Config()
    # (Not the Terraform files: python-hcl2's parser leaves cycles of its own, compiled or not.)
    files = [(job.path, job.relpath) for _, job in walk_files([REPO / "examples"], cfg, ScanStats(), None)
             if job is not None and job.relpath.endswith((".md", ".yaml", ".yml", ".sh", "Makefile"))]
    assert any(rel.endswith(".md") for _, rel in files) and any(rel.endswith(".yaml") for _, rel in files)
    cfg_json = scan_config_json(cfg)
    lines = ["kubectl -n prod rollout restart deploy/api && echo done", "cat <<EOF > x\nbody\nEOF",
             "f() { echo; }; f 2>&1 | tee log", 'psql "$URL" -c "select 1" || exit 1']
    _read_and_scan(files, cfg_json)  # what is made once per process (caches) is made now
    parse_sightings(lines, cfg=cfg)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        records, parsed = _read_and_scan(files, cfg_json)
        rows = parse_sightings([line + " " for line in lines], cfg=cfg)
        assert records and parsed and rows
        del records, parsed, rows
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
