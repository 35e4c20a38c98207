"""A cold scan hands the files only command-only scanners want (runbooks, scripts) out last and
merges the other files' fragments while the workers scan them (``scan._EarlyMerge``).

Whatever the files hold, the result must be what merging every fragment in order gives: the
same inventory bytes, statistics, warnings and cache entries. Where a late file breaks its
scanners' promise, or telling same-named entities apart needs every file's directory, the
fragments are merged as usual instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import inventory.scan as scan_mod
from inventory import units
from inventory.config import Config
from inventory.scan import FragmentCache, scan_paths
from inventory.scanners import all_scanners
from tests.test_scan_streaming import _stored, _summary

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


def _tree(tmp_path: Path) -> Path:
    """The example, with warnings and secrets in late files (runbooks, scripts) and early ones."""
    root = tmp_path / "tree"
    shutil.copytree(EXAMPLE, root)
    (root / "runbooks" / "odd.md").write_text(
        "# Odd\n\n```sh\nkubectl --token=abcd1234abcd1234abcd1234 -n orders-prod get pods\n"
        "kubectl apply -f 'unterminated\n```\n")
    (root / "scripts" / "more.sh").write_text("#!/bin/sh\nset -e\npsql -h orders-db.prod -c 'select 1'\n")
    (root / "k8s" / "base" / "broken.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: [\n")
    (root / "runbooks" / "gone.md").symlink_to(tmp_path / "nowhere")  # the walk's own warning
    return root


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What became of each early merge: 'kept', 'undone' (a late file broke the promise) or 'none'."""
    seen: list[str] = []
    run, kept = scan_mod._EarlyMerge.run.__func__, scan_mod._EarlyMerge.kept  # type: ignore[attr-defined]

    def spy_run(cls, *args):  # type: ignore[no-untyped-def]
        early = run(cls, *args)
        if early is None:
            seen.append("none")
        return early

    def spy_kept(self, *args):  # type: ignore[no-untyped-def]
        ok = kept(self, *args)
        seen.append("kept" if ok else "undone")
        return ok

    monkeypatch.setattr(scan_mod._EarlyMerge, "run", classmethod(spy_run))
    monkeypatch.setattr(scan_mod._EarlyMerge, "kept", spy_kept)
    return seen


def _entries(cache: Path) -> dict[str, list]:
    """The cache's entries: the fragments as they load (a worker's bytes for them may share
    strings differently: marshal refers back only to a string it met as one object)."""
    stored = _stored(cache)
    stored["fragments"] = [(key, scan_mod._FRAGMENT_STORE.load_many(value)) for key, value in stored["fragments"]]
    return stored


def _usual(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, cfg: Config) -> tuple:
    """The scan by the usual passes (as when something is stored): no file is late there."""
    with monkeypatch.context() as m:
        m.setattr(FragmentCache, "is_empty", lambda self: False)
        return scan_paths([root], cfg, cache_dir=tmp_path / "usual", jobs=2)


def test_the_late_files_are_those_only_command_only_scanners_want_by_name() -> None:
    late = scan_mod._LateFiles(all_scanners())
    assert late.wanted_only_by_them("runbooks/orders-db-failover.md")
    assert late.wanted_only_by_them("svc/ops.sh") and late.wanted_only_by_them("Makefile")
    # A README is the readme scanner's too; YAML, Terraform and unknown files are nobody's late.
    assert not late.wanted_only_by_them("runbooks/README.md")
    for rel in ("k8s/base/orders-api.yaml", "catalog-info.yaml", "terraform/main.tf", "notes.txt", "CODEOWNERS"):
        assert not late.wanted_only_by_them(rel), rel


def test_only_scanners_without_a_finalize_step_can_promise(monkeypatch: pytest.MonkeyPatch) -> None:
    scanners = all_scanners()
    promising = {s.name for s in scanners if scan_mod._promises_commands_only(s)}
    assert promising == {"runbooks", "shell"}
    kube = next(s for s in scanners if s.name == "kubernetes")
    monkeypatch.setattr(type(kube), "commands_only", True)
    assert not scan_mod._promises_commands_only(kube)  # it has a finalize step: its word is not enough


def test_the_early_merge_gives_what_merging_every_fragment_gives(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    cfg = Config()
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)  # several batches, and the pool, on a small tree
    seen = _spied(monkeypatch)
    import inventory.resolve as resolve_mod

    early_resolved: list[int] = []
    before = resolve_mod.resolve_before_commands

    def spy_before(*args):  # type: ignore[no-untyped-def]
        done = before(*args)
        early_resolved.append(done.count)
        return done

    monkeypatch.setattr(resolve_mod, "resolve_before_commands", spy_before)
    early = scan_paths([root], cfg, cache_dir=tmp_path / "early", jobs=2)
    assert seen == ["kept"]
    assert early[1].stages["merge fragments"] > 0
    assert early_resolved and early_resolved[0] > 0  # the resolvers that read no command, with the early merge
    usual = _usual(tmp_path, root, monkeypatch, cfg)
    assert _summary(*early) == _summary(*usual)
    assert _entries(tmp_path / "early") == _entries(tmp_path / "usual")
    inv = early[0]
    # The late files' sightings, secrets and warnings are there, in the files' order.
    assert any(c.evidence.path == "scripts/more.sh" for a in inv.actions for c in a.commands)
    assert any(s.path == "runbooks/odd.md" for s in inv.secrets)
    paths = [w.path for w in inv.warnings]
    assert "k8s/base/broken.yaml" in paths and paths == sorted(paths)


def test_the_views_worked_out_early_are_those_of_every_fragment(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The resolvers that read commands start with views of the fragments the early merge worked
    # out without the late files: once those are added, what the views of every file's give.
    from inventory.builder import InventoryBuilder
    from inventory.resolve import ResolvedEarly, _commands, tfworkspace
    from inventory.resolve.base import ResolveContext

    root = _tree(tmp_path)
    # A late file in a directory no other file is in, and a runbooks scanner's file that is not late.
    (root / "ops" / "deep").mkdir(parents=True)
    (root / "ops" / "deep" / "rotate.sh").write_text("#!/bin/sh\nterraform workspace select prod\n")
    (root / "runbooks" / "README.md").write_text("# Runbooks\n\n```sh\nkubectl -n orders-prod get pods\n```\n")
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    checked: list[tuple[int, set[str]]] = []
    real = ResolvedEarly.views_of

    def spy(self: ResolvedEarly, fragments: list, late: list) -> dict:
        got = real(self, fragments, late)
        assert not self.views  # let go: they hold fragments
        ctx = ResolveContext(builder=InventoryBuilder(), fragments=fragments, config=Config())
        assert got["by_scanner"] == ctx._group_by_scanner()
        assert got["known_dirs"] == _commands._known_dirs(ctx)
        assert got["terraform_roots"] == tfworkspace._terraform_roots(ctx)
        assert got["terraform_roots"]  # (the example has Terraform modules)
        checked.append((len(late), {f.path for f in late}))
        return got

    monkeypatch.setattr(ResolvedEarly, "views_of", spy)
    scan_paths([root], Config(), cache_dir=tmp_path / "early", jobs=2)
    assert len(checked) == 1 and checked[0][0] > 0
    assert "ops/deep/rotate.sh" in checked[0][1]
    # A view that reads a late file's scanner is worked out again.
    done = ResolvedEarly(1, None, {"by_scanner": {}, "known_dirs": {"."}, "terraform_roots": {"x": ["y"]}})
    from inventory.scanners.base import Fragment

    late = [Fragment(path="a/b.tf", scanner="terraform")]
    views = real(done, late, late)
    assert "terraform_roots" not in views and views["by_scanner"] == {"terraform": late}
    assert views["known_dirs"] == {".", "a", "a/b.tf"}


def test_the_workers_go_behind_the_early_merge_before_the_late_files_go_out(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # While they scan the late files, the merge in this process is what the scan waits for.
    from concurrent.futures import ProcessPoolExecutor

    root = _tree(tmp_path)
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    events: list[str] = []
    put_behind, submit = scan_mod._put_behind, ProcessPoolExecutor.submit

    def spy_behind(pool):  # type: ignore[no-untyped-def]
        events.append("behind")
        put_behind(pool)

    def spy_submit(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if fn is scan_mod._read_and_scan:
            late = scan_mod._LateFiles(all_scanners())
            events.append("late" if all(late.wanted_only_by_them(rel) for _, rel in args[0]) else "early")
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(scan_mod, "_put_behind", spy_behind)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", spy_submit)
    scan_paths([root], Config(), cache_dir=tmp_path / "c", jobs=2)
    first_late = events.index("late")
    assert "behind" in events[:first_late] and "early" not in events[first_late:]
    assert events.index("behind") > max(i for i, e in enumerate(events) if e == "early")


def test_a_late_file_that_breaks_the_promise_is_merged_as_usual(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    cfg = Config()
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    # Manifests handed out late too: their fragments hold entities, so the merge made without
    # them is undone and every fragment merged as usual (from the others as they were loaded).
    wanted = scan_mod._LateFiles.wanted_only_by_them
    monkeypatch.setattr(scan_mod._LateFiles, "wanted_only_by_them",
                        lambda self, rel: rel.startswith("k8s/kafka/") or wanted(self, rel))
    seen = _spied(monkeypatch)
    # The merge starts again from the other files' fragments as they were loaded (the early
    # merge edited its own): each is loaded a second time, from the bytes kept for it.
    loads: list[int] = []
    load_many = scan_mod._FRAGMENT_STORE.load_many
    monkeypatch.setattr(scan_mod._FRAGMENT_STORE, "load_many", lambda blob: loads.append(1) or load_many(blob))
    early = scan_paths([root], cfg, cache_dir=tmp_path / "early", jobs=2)
    assert seen == ["undone"]
    assert len(loads) > early[1].files_scanned  # once as each arrived, then the early ones again
    usual = _usual(tmp_path, root, monkeypatch, cfg)
    assert _summary(*early) == _summary(*usual)
    assert any(r.id.startswith("kafka") or "kafka" in r.id for r in early[0].resources)


def test_no_early_merge_when_same_named_entities_need_every_directory(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    # The same Kafka in two unrelated directories: telling them apart reads the deployment
    # units, which the late files' directories take part in.
    for team in ("team-a", "team-b"):
        d = root / "apps" / team
        d.mkdir(parents=True)
        (d / "kafka.yaml").write_text("apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata:\n"
                                      "  name: events\nspec:\n  kafka:\n    replicas: 3\n")
        (d / "ops.md").write_text("# Ops\n\n```sh\nkubectl -n kafka get kafka events\n```\n")
    cfg = Config()
    monkeypatch.setattr(scan_mod, "STREAM_BATCH", 8)
    seen = _spied(monkeypatch)
    early = scan_paths([root], cfg, cache_dir=tmp_path / "early", jobs=2)
    assert seen == ["none"]
    usual = _usual(tmp_path, root, monkeypatch, cfg)
    assert _summary(*early) == _summary(*usual)
    told_apart = {r.id for r in early[0].resources if r.evidence[0].path.startswith("apps/")}
    assert len(told_apart) == 2


def test_told_apart_alone_only_when_the_units_were_not_read(tmp_path: Path) -> None:
    from inventory.scanners.base import Fragment
    from inventory.model import Evidence, Resource

    def kafka(path: str) -> Fragment:
        res = Resource(id="kafka:events", name="events", kind="kafka-cluster", attributes={"k8s_kind": "Kafka"},
                       evidence=[Evidence(path=path, line=1)])
        return Fragment(path=path, scanner="kubernetes", resources=[res])

    once = [kafka("apps/a/kafka.yaml")]
    assert units.separate_same_named_alone(once, Config()) == units.separate_same_named(once, Config())
    twice = [kafka("apps/a/kafka.yaml"), kafka("apps/b/kafka.yaml")]
    assert units.separate_same_named_alone(twice, Config()) is None
