"""The exported hooks' own entry (``python -I -S generators/hook_entry.py``) and the verdict table
beside the state: same answers as ``stackpolicy hook``, no site-packages before they are needed,
and a table that is read only with the exact state it was exported with."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from generators import hook_client
from generators.exporters.base import cli_guard, hook_guard, hook_runner
from generators import hook
from tests.test_hook import (  # noqa: F401 - fixtures shared with the hook tests
    REPO,
    _bash,
    _digest,
    _servers_in,
    _sock,
    socket_dir,
    state,
)

ENTRY = REPO / "generators" / "hook_entry.py"


def _entry(state: Path, cmd: str, *, server: str = "off", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "STACKPOLICY_HOOK_SERVER": server}
    return subprocess.run([sys.executable, "-I", "-S", str(ENTRY), "claude-code", "--state", str(state), *extra],
                          input=json.dumps(_bash(cmd)), capture_output=True, text=True, env=env, cwd="/",
                          timeout=120)


def _decision(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"]


@pytest.mark.parametrize(("cmd", "decision"), [
    ("kubectl get pods -n acme-prod -l app=orders-api", "allow"),  # a policy command: the exported table
    ("kubectl delete namespace acme-prod", "deny"),
    ("echo ok && kubectl delete namespace acme-prod", "deny"),  # not in the table: the full classifier, site on
    ("echo ok && sudo bash -c 'terraform destroy -auto-approve'", "deny"),
    ("git status", "allow"),
])
def test_entry_answers_like_the_hook(state: Path, cmd: str, decision: str) -> None:
    assert _decision(_entry(state, cmd)) == decision


def test_entry_fails_closed_on_bad_input(state: Path) -> None:
    res = subprocess.run([sys.executable, "-I", "-S", str(ENTRY), "claude-code", "--state", str(state)],
                         input="not json", capture_output=True, text=True, timeout=60)
    assert json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"] == "ask"


def test_entry_does_not_shadow_the_standard_library_with_its_own_directory(state: Path) -> None:
    # generators/ holds modules named like common words (check, classify, pipeline...): with -I the
    # script's directory is sys.path[0]; the entry replaces it with the package root.
    code = (f"import json, runpy, sys; sys.argv = ['x', '--bad']; sys.path.insert(0, {str(ENTRY.parent)!r})\n"
            "try:\n"
            f"    runpy.run_path({str(ENTRY)!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    print(json.dumps([e.code, sys.path]))\n")
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    code_, path = json.loads(res.stdout)
    assert code_ == 2 and "usage" in res.stderr
    assert path[0] == str(REPO) and str(ENTRY.parent) not in path


def test_a_table_answer_needs_no_site_packages(state: Path) -> None:
    code = (
        "import io, sys\n"
        f"sys.path[0] = {str(REPO)!r}\n"
        "from generators.hook import run\n"
        "from generators.hook_client import json_dumps as dumps\n"
        f"ev = {json.dumps(_bash('kubectl get pods -n acme-prod -l app=orders-api'))!r}\n"
        f"run(io.StringIO(ev), sys.stdout, {str(state)!r})\n"
        "print(dumps(sorted(m for m in ('site', 'pydantic', 'yaml', 'generators.classify', 're', 'enum', 'socket')\n"
        "                        if m in sys.modules)))\n"
    )
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60,
                         env={"STACKPOLICY_HOOK_SERVER": "off"})
    answer, loaded = res.stdout.strip().splitlines()
    assert json.loads(answer)["hookSpecificOutput"]["permissionDecision"] == "allow"
    assert json.loads(loaded) == []


def test_export_writes_the_table_for_the_exact_state(state: Path) -> None:
    table = Path(hook_client.table_path(str(state)))
    assert table.name == "hook-state.table"
    head = table.read_text().splitlines()[0]
    assert head == f"{hook_client.TABLE_MAGIC} {_digest(state)}"
    exported = json.loads(state.read_text())["table"]
    for cmd, want in exported.items():
        assert hook_client.table_get(str(state), _digest(state), cmd) == (want["decision"], want["reason"])
    miss = "echo ok && kubectl delete namespace acme-prod"
    assert miss not in exported and hook_client.table_get(str(state), _digest(state), miss) is None


def test_a_table_of_other_state_bytes_is_never_read(tmp_path: Path) -> None:
    st = tmp_path / "hook-state.json"
    st.write_text('{"version": 2}\n')
    digest = hook_client.state_hash(st.read_bytes())
    Path(hook_client.table_path(str(st))).write_text(
        hook_client.table_text("0" * 64, {"rm -rf /": {"decision": "allow", "reason": "forged"}}))
    assert hook_client.table_get(str(st), digest, "rm -rf /") is None
    Path(hook_client.table_path(str(st))).write_text(
        hook_client.table_text(digest, {"rm -rf /": {"decision": "deny", "reason": "T3"}}))
    assert hook_client.table_get(str(st), digest, "rm -rf /") == ("deny", "T3")
    assert hook_client.table_get(str(st), digest, "rm -rf / ") is None  # a whole-line match only


def test_a_malformed_table_row_is_ignored(tmp_path: Path) -> None:
    st = tmp_path / "s.json"
    st.write_text("{}")
    digest = hook_client.state_hash(st.read_bytes())
    key = hook_client._line_key("ls")
    for row in (f"{key} allow-ish \"x\"", f"{key} allow not-json", f"{key} allow 3"):
        Path(hook_client.table_path(str(st))).write_text(f"{hook_client.TABLE_MAGIC} {digest}\n{row}")
        assert hook_client.table_get(str(st), digest, "ls") is None


def test_table_text_is_deterministic_and_holds_no_command() -> None:
    table = {"b secret-ish line": {"decision": "ask", "reason": "r"}, "a": {"decision": "allow", "reason": "ä\nx"}}
    text = hook_client.table_text("f" * 64, table)
    assert text == hook_client.table_text("f" * 64, dict(reversed(table.items())))
    assert "secret-ish" not in text and text.isascii() and text.count("\n") == 3


def test_hook_runner_uses_this_interpreter_only(tmp_path: Path) -> None:
    mine = tmp_path / "stackpolicy"
    mine.write_text(f"#!{sys.executable}\nimport sys\n")
    assert hook_runner(str(mine)) == [sys.executable, "-I", "-S", str(ENTRY)]
    other = tmp_path / "other"
    other.write_text("#!/opt/elsewhere/bin/python\n")
    assert hook_runner(str(other)) is None
    assert hook_runner("stackpolicy") is None  # a bare name: whatever PATH holds when the hook runs
    assert hook_runner(str(tmp_path / "gone")) is None
    assert hook_guard("stackpolicy", ["claude-code"]) == cli_guard("stackpolicy", ["hook", "claude-code"])


def test_guarded_entry_blocks_when_the_cli_is_gone(state: Path, tmp_path: Path) -> None:
    mine = tmp_path / "bin" / "stackpolicy"
    mine.parent.mkdir()
    mine.write_text(f"#!{sys.executable}\n")
    mine.chmod(0o755)
    cmd = hook_guard(str(mine), ["claude-code", "--state", str(state)])
    assert shlex.quote(str(ENTRY)) in cmd or str(ENTRY) in cmd
    ok = subprocess.run(["/bin/sh", "-c", cmd], input=json.dumps(_bash("kubectl delete namespace acme-prod")),
                        capture_output=True, text=True, timeout=120, env={"STACKPOLICY_HOOK_SERVER": "off"})
    assert _decision(ok) == "deny"
    mine.unlink()
    gone = subprocess.run(["/bin/sh", "-c", cmd], input=json.dumps(_bash("ls")), capture_output=True, text=True,
                          timeout=60)
    assert gone.returncode == 2 and "missing" in gone.stderr


def test_a_spawned_server_holds_its_lock_before_spawn_returns(state: Path, socket_dir: Path) -> None:
    sock = _sock(socket_dir, state)
    pid = hook_client.ensure(str(state), _digest(state))
    assert pid is not None
    assert hook_client.running(sock)  # at once, while it still imports: a second call starts none
    assert hook_client.ensure(str(state), _digest(state)) is None
    assert hook_client.wait_ready(sock, pid, 60.0)
    assert [p.pid for p in _servers_in(socket_dir)] == [pid]


def test_session_start_returns_once_the_server_listens(state: Path, socket_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    import io

    monkeypatch.setenv("STACKPOLICY_HOOK_WARM_WAIT", "8")
    assert hook.warm(io.StringIO("{}"), str(state)) == 0
    sock = _sock(socket_dir, state)
    assert Path(sock).exists()
    assert hook_client.query(sock, _digest(state), "echo ok && kubectl delete namespace acme-prod")[0] == "deny"


def test_session_start_does_not_wait_for_a_server_that_cannot_start(tmp_path: Path, socket_dir: Path) -> None:
    import io

    st = tmp_path / "hook-state.json"
    st.write_text('{"version": 0}')  # the server refuses another version and exits at once
    digest = hook_client.state_hash(st.read_bytes())
    assert hook.warm(io.StringIO("{}"), str(st)) == 0
    assert not Path(hook_client.socket_path(str(socket_dir), str(st), digest)).exists()
    assert not hook_client.running(hook_client.socket_path(str(socket_dir), str(st), digest))


def test_warm_wait_is_bounded(monkeypatch) -> None:  # noqa: ANN001
    for value, want in (("0", 0.0), ("3", 3.0), ("999", hook_client.MAX_WARM_WAIT), ("x", hook_client.DEFAULT_WARM_WAIT)):
        monkeypatch.setenv("STACKPOLICY_HOOK_WARM_WAIT", value)
        assert hook_client.warm_wait() == want


@pytest.mark.parametrize("doc", [
    {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                            "permissionDecisionReason": "stackpolicy: T3 \u00e4 \"quoted\" \\ \n \u2028 \U0001F600"}},
    {"command": "rm -rf / # \x00 \t", "state": "a" * 64, "n": [1, -2, 3.5, True, False, None, []]},
    [], "", 0,
])
def test_hook_json_codec_matches_the_json_module(doc: object) -> None:
    assert hook_client.json_dumps(doc) == json.dumps(doc)
    assert hook_client.json_loads(json.dumps(doc)) == doc
    assert hook_client.json_loads(json.dumps(doc, ensure_ascii=False, indent=2).encode()) == doc


@pytest.mark.parametrize("bad", ["", "   ", "{", '{"a": 1} x', "NaN", "[1,]", "{'a': 1}", b"\xff", "[" * 100_000])
def test_hook_json_codec_rejects_what_is_not_json(bad: str | bytes) -> None:
    with pytest.raises(ValueError):
        hook_client.json_loads(bad)
