"""The benchmark's synthetic repo generator, measurement helper, ratios, and a tiny end-to-end run."""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import measure  # noqa: E402
import run  # noqa: E402
import synth  # noqa: E402
import phases as phases_mod  # noqa: E402
from phases import BenchContext, PhaseResult, phase_warm_scan, runbook_commands  # noqa: E402

N = 20


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _, _ = synth.ensure_repo(N, 7, tmp_path_factory.mktemp("synth"))
    return root


def test_same_seed_gives_identical_tree(tmp_path: Path, small_tree: Path) -> None:
    again, _, fresh = synth.ensure_repo(N, 7, tmp_path)
    assert fresh
    assert synth.tree_hash(again) == synth.tree_hash(small_tree)
    # The in-memory hash agrees with what lands on disk (the stamp relies on it).
    assert synth.files_hash(synth.generate_files(N, 7)) == synth.tree_hash(small_tree)


def test_other_seed_gives_other_tree(small_tree: Path) -> None:
    assert synth.files_hash(synth.generate_files(N, 8)) != synth.tree_hash(small_tree)


def test_existing_tree_is_reused_and_stale_tree_rebuilt(tmp_path: Path) -> None:
    root, _, fresh = synth.ensure_repo(3, 1, tmp_path)
    assert fresh
    _, _, fresh_again = synth.ensure_repo(3, 1, tmp_path)
    assert not fresh_again
    (root / "services" / "stray.txt").write_text("x")
    (tmp_path / "repo-n3-s1.stamp").write_text("v0 stale\n")
    _, _, rebuilt = synth.ensure_repo(3, 1, tmp_path)
    assert rebuilt and not (root / "services" / "stray.txt").exists()


def test_artifact_types_and_file_count(small_tree: Path) -> None:
    files = [p.relative_to(small_tree).as_posix() for p in small_tree.rglob("*") if p.is_file()]
    kinds = Counter(synth.artifact_type(f) for f in files)
    expected = {
        "k8s-manifest", "kustomize-base", "kustomize-overlay", "helm-values", "helm-chart", "helm-template",
        "docker-compose", "terraform", "runbook", "openapi", "backstage-catalog", "kafka-topics",
        "kafka-platform", "k8s-namespaces", "codeowners",
    }
    assert expected <= set(kinds), expected - set(kinds)
    assert kinds["shell-script"] + kinds["makefile"] > 0
    assert "other" not in kinds
    # One of each always-present artifact per service; ~10 files per service overall.
    for always in ("k8s-manifest", "helm-values", "runbook", "backstage-catalog"):
        assert kinds[always] == N
    assert 7 * N <= len(files) <= 13 * N + 20


def test_default_size_is_about_twenty_thousand_files() -> None:
    files = synth.generate_files(2000, 42)
    assert 18_000 <= len(files) <= 22_000
    mean = sum(len(t) for t in files.values()) / len(files)
    assert 500 <= mean <= 4000  # "a few KB" for the big artifacts, small overlays pull the mean down


def test_every_yaml_outside_helm_templates_parses(small_tree: Path) -> None:
    checked = 0
    for path in sorted(small_tree.rglob("*.yaml")):
        rel = path.relative_to(small_tree).as_posix()
        text = path.read_text(encoding="utf-8")
        if synth.is_helm_template(rel):
            assert "{{" in text  # real Go templates, which scanners must not YAML-parse
            continue
        docs = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
        assert docs, rel
        checked += 1
    assert checked > 5 * N


def test_deployments_are_multi_document(small_tree: Path) -> None:
    dep = next(small_tree.rglob("deployment.yaml"))
    if synth.is_helm_template(dep.relative_to(small_tree).as_posix()):
        dep = next(p for p in small_tree.rglob("k8s/base/deployment.yaml"))
    kinds = [d["kind"] for d in yaml.safe_load_all(dep.read_text())]
    assert kinds[:2] == ["Deployment", "Service"]


def test_env_vars_wire_services_to_existing_topics_and_databases() -> None:
    files = synth.generate_files(60, 3)
    topics = {
        d["metadata"]["name"]
        for rel, text in files.items() if rel.endswith("kafka/topics.yaml")
        for d in yaml.safe_load_all(text)
    }
    consumed: set[str] = set()
    db_urls = 0
    for rel, text in files.items():
        if rel.endswith("k8s/base/deployment.yaml"):
            dep = next(yaml.safe_load_all(text))
            for var in dep["spec"]["template"]["spec"]["containers"][0]["env"]:
                if var["name"].startswith("CONSUME_TOPIC_"):
                    consumed.add(var["value"])
                db_urls += var["name"] == "DATABASE_URL"
    assert consumed and consumed <= topics
    assert db_urls > 0
    assert any('resource "aws_db_instance"' in t for r, t in files.items() if r.endswith(".tf"))
    assert any('resource "aws_rds_cluster"' in t for r, t in files.items() if r.startswith("platform/"))


def test_a_few_fake_secrets_are_planted() -> None:
    files = synth.generate_files(2 * synth.SECRET_EVERY, 5)
    leaks = [rel for rel, text in files.items() if re.search(r"AKIA[A-Z2-7]{16}", text)]
    assert len(leaks) == 2  # every SECRET_EVERY-th service, in its Helm values
    assert all(rel.endswith("helm/values.yaml") for rel in leaks)


def test_runbooks_have_commands_in_fenced_blocks(small_tree: Path) -> None:
    cmds = runbook_commands(small_tree, 50)
    assert len(cmds) == 50
    assert any(c.startswith("kubectl ") for c in cmds)
    assert not any(c.startswith("```") for c in cmds)
    all_cmds = runbook_commands(small_tree, 2000)
    assert any(c.startswith("kafka-") for c in all_cmds) and any(c.startswith("psql ") for c in all_cmds)


def test_run_measured_reports_peak_rss_and_json_result() -> None:
    code = "x = bytearray(120 * 2**20); x[::4096] = b'1' * len(x[::4096]); print('{\"seconds\": 0.5, \"files\": 3}')"
    m = measure.run_measured([sys.executable, "-c", code])
    assert m.returncode == 0
    assert m.result == {"seconds": 0.5, "files": 3}
    assert m.maxrss_mb >= 120
    assert m.tree_peak_mb >= m.maxrss_mb


def test_the_tree_peak_sums_the_processes_alive_at_once() -> None:
    # Children of 100 MB each, alive together: the tree held one child's memory more for each
    # child, whatever a process of this machine holds besides. Each says when it holds its
    # memory and keeps it until told to go (however slowly a loaded machine starts them), and
    # they hold it together for a second (fifty samples, should the sampler be slow to run).
    def tree_peak(children: int) -> float:
        code = ("import subprocess, sys, time\n"
                "hold = ('import sys; x = bytearray(100 * 2**20); x[::4096] = b\"1\" * len(x[::4096]); '\n"
                "        'print(\"held\", flush=True); sys.stdin.read()')\n"
                "kids = [subprocess.Popen([sys.executable, '-c', hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
                f"        for _ in range({children})]\n"
                "[k.stdout.readline() for k in kids]\n"
                "time.sleep(1.0)\n"
                "[k.communicate(b'') for k in kids]\n")
        m = measure.run_measured([sys.executable, "-c", code])
        assert m.returncode == 0
        return m.tree_peak_mb

    one, two = tree_peak(1), tree_peak(2)
    # The second child's memory is in the sum (not all of its 100 MB may show in its RSS at the
    # sample's moment on a busy machine, so the margin is looser than 100 MB).
    assert one >= 100 and two >= one + 40


def test_the_proc_sampler_sees_what_psutil_sees() -> None:
    # The cheap /proc reading of a process tree's memory, against psutil's, on a live tree.
    import os
    import subprocess

    psutil = pytest.importorskip("psutil")
    if not measure._proc_children_readable():
        pytest.skip("this system does not list a task's children in /proc")
    hold = "x = bytearray(40 * 2**20); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(5)"
    kids = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(2)]
    try:
        deadline = time.monotonic() + 5
        root = psutil.Process(os.getpid())
        while time.monotonic() < deadline:
            theirs = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            mine = measure._proc_tree_rss(os.getpid())
            if theirs > 80 * 2**20 and mine is not None and abs(mine - theirs) < 4 * 2**20:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"/proc gave {mine}, psutil {theirs}")
    finally:
        for k in kids:
            k.kill()
            k.wait()
    assert measure._proc_tree_rss(kids[0].pid) is None  # gone: the sampler stops


def test_a_child_in_its_parents_address_space_is_counted_once(tmp_path: Path) -> None:
    # posix_spawn (like subprocess's vfork) runs the child in the parent's memory until it
    # execs; a file action that opens a FIFO holds it there until something opens the other
    # end. Its statm shows the parent's RSS: counted, the tree would be twice this process.
    # A watcher process measures the tree meanwhile (this one waits in posix_spawn), then
    # opens the FIFO.
    import os
    import subprocess

    if not measure._proc_children_readable() or measure._SYSCALL is None or not hasattr(os, "posix_spawn"):
        pytest.skip("needs /proc children lists, kcmp and posix_spawn")
    fifo, out = tmp_path / "hold", tmp_path / "seen.json"
    os.mkfifo(fifo)
    ballast = bytearray(64 * 2**20)
    ballast[::4096] = b"1" * len(ballast[::4096])  # this process: resident, large
    watch = f"""
import json, os, sys, time
sys.path.insert(0, {str(Path(measure.__file__).parent)!r})
import measure
me, parent, seen = os.getpid(), {os.getpid()}, {{}}
try:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "child" not in seen:
        for tid in os.listdir(f"/proc/{{parent}}/task"):
            for c in open(f"/proc/{{parent}}/task/{{tid}}/children").read().split():
                if int(c) != me and "child" not in seen:
                    child = int(c)
                    own = int(open(f"/proc/{{parent}}/statm").read().split()[1]) * measure._PAGE_BYTES
                    seen.update(child=child, shares=measure._shares_memory(child, parent), own=own,
                                child_statm=int(open(f"/proc/{{child}}/statm").read().split()[1]) * measure._PAGE_BYTES,
                                tree_without_me=measure._proc_tree_rss(parent) - measure._proc_tree_rss(me))
        time.sleep(0.005)
finally:
    open({str(out)!r}, "w").write(json.dumps(seen))
    with open({str(fifo)!r}, "wb"):  # lets the child open it, exec and exit
        pass
"""
    watcher = subprocess.Popen([sys.executable, "-c", watch])
    time.sleep(0.3)  # the watcher is listed (and started) before the child it looks for
    pid = os.posix_spawn("/bin/true", ["true"], dict(os.environ),
                         file_actions=[(os.POSIX_SPAWN_OPEN, 0, str(fifo), os.O_RDONLY, 0)])
    os.waitpid(pid, 0)
    assert watcher.wait(timeout=30) == 0
    seen = json.loads(out.read_text())
    assert seen.get("child") == pid
    assert seen["shares"] is True and seen["child_statm"] > 32 * 2**20  # the parent's memory, shown as its own
    assert seen["tree_without_me"] < seen["own"] + 16 * 2**20  # counted once
    assert not measure._shares_memory(os.getpid(), os.getppid())  # separate processes: not the same
    del ballast


def test_run_measured_kills_a_child_past_its_timeout() -> None:
    m = measure.run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert m.timed_out and m.returncode != 0
    assert "timed out" in m.stderr_tail


def test_ratios_and_aims() -> None:
    results = {
        "floor1": PhaseResult(name="f1", seconds=4.0, items=100),
        "floor2": PhaseResult(name="f2", seconds=2.0, items=100),
        "cold": PhaseResult(name="cold", seconds=5.0, items=100, tree_peak_mb=600.0),
        "warm": PhaseResult(name="warm", seconds=0.4, items=100, tree_peak_mb=100.0),
        "llm": PhaseResult(name="llm", status="skipped", note="skipped: not available"),
    }
    rat = run.ratios(results)
    assert rat["cold_over_floor"] == pytest.approx(2.5)
    assert rat["cold_over_floor_1proc"] == pytest.approx(1.25)
    assert rat["warm_over_cold"] == pytest.approx(0.08)
    assert rat["aims"] == {
        "cold <= 2x floor (2 procs)": "MISSED", "warm <= 5% of cold": "MISSED", "peak RSS <= 500 MB": "MISSED",
    }
    table = run.format_table(results)
    assert "skipped: not available" in table and "50" in table  # 100 files / 2 s


def test_warm_rescan_with_cache_misses_is_a_failure(tmp_path: Path) -> None:
    ctx = BenchContext(repo=tmp_path, out_dir=tmp_path, n_services=1, n_files=10)
    ctx.results["cold"] = PhaseResult(name="cold", seconds=9.0, details={"digest": "a"})
    ctx.pending["warm"] = PhaseResult(name="warm", seconds=8.0, details={"digest": "b", "cache_hits": 0, "files_scanned": 10})
    res = phase_warm_scan(ctx)
    assert res.status == "failed"
    assert "0/10 files from cache" in res.note and "DIFFERS" in res.note
    ctx.pending["warm"] = PhaseResult(name="warm", seconds=1.0, details={"digest": "a", "cache_hits": 10, "files_scanned": 10})
    res = phase_warm_scan(ctx)
    assert res.status == "ok" and res.note == "10/10 from cache; inventory identical to cold"


def test_ratios_without_a_cold_scan_are_not_available() -> None:
    rat = run.ratios({"floor2": PhaseResult(name="f2", seconds=1.0), "cold": PhaseResult(name="c", status="failed")})
    assert rat["cold_over_floor"] is None
    assert rat["aims"]["cold <= 2x floor (2 procs)"] == "n/a"


def test_tiny_end_to_end_run(tmp_path: Path) -> None:
    """The runner's core phases on 5 services (a few seconds): each runs and they agree.

    Later phases (generation, classify) belong to other modules and are left out here.
    """
    rc = run.main(["--services", "5", "--json", "--out", str(tmp_path), "--phases", "floor1,floor2,cold,warm,edit"])
    data = json.loads((tmp_path / "results.json").read_text())
    phases = data["phases"]
    assert rc == 0
    for key in ("floor1", "floor2", "cold", "warm"):
        assert phases[key]["status"] == "ok", phases[key]
        assert phases[key]["items"] == data["files"]
    # The edit rescan scanned its new runbook alone, and left the estate as it was.
    edit = phases["edit"]
    assert edit["status"] == "ok", edit
    assert edit["items"] == data["files"] + 1
    assert edit["details"]["cache_hits"] == edit["details"]["files_scanned"] - 1
    assert edit["details"]["actions"] > phases["cold"]["details"]["actions"]  # its commands were read
    assert not list(tmp_path.rglob(phases_mod.EDIT_PROBE)) and not list(tmp_path.glob("cache-edit-*"))
    assert data["ratios"]["edit_over_cold"] > 0
    # ...and the cache as the warm rescan left it, for the phases after it.
    from inventory.config import Config
    from inventory.scan import scan_paths

    repo = tmp_path / f"repo-n5-s{data['seed']}"
    _, stats = scan_paths([repo], Config(), cache_dir=tmp_path / "cache-n5")
    assert "load the stored inventory" in stats.stages and stats.cache_hits == stats.files_scanned
    assert phases["warm"]["details"]["cache_hits"] == phases["warm"]["details"]["files_scanned"]
    assert phases["cold"]["details"]["cache_hits"] == 0
    assert phases["warm"]["details"]["digest"] == phases["cold"]["details"]["digest"]
    assert phases["cold"]["details"]["components"] >= 1  # sanity: the scanners found the services
    assert data["ratios"]["cold_over_floor"] > 0
    assert set(phases) == {"floor1", "floor2", "cold", "warm", "edit"}


def test_unknown_phase_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run.main(["--services", "1", "--phases", "cold,nope", "--out", str(tmp_path)])
    assert exc.value.code == 2
