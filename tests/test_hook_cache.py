"""The hook's decision cache and state-hash memo: what is kept, when it is trusted, what never is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generators import hook_client, hook_server
from tests.test_hook import (  # noqa: F401 - fixtures shared with the hook tests
    REPO,
    _ask,
    _bash,
    _digest,
    socket_dir,
    state,
)


def _entries(socket_dir: Path, state: Path) -> list[Path]:
    d = Path(hook_client.cache_dir(str(socket_dir), _digest(state)))
    return sorted(p for p in d.iterdir() if p.name != "code") if d.exists() else []


def test_cache_round_trip_is_keyed_by_line_and_state(socket_dir: Path) -> None:
    d, a, b = str(socket_dir), "a" * 64, "b" * 64
    assert hook_client.cache_get(d, a, "ls") is None
    assert hook_client.cache_put(d, a, "ls", "allow", "T0 observe")
    assert hook_client.cache_get(d, a, "ls") == ("allow", "T0 observe")
    assert hook_client.cache_get(d, b, "ls") is None  # another policy: its own cache
    assert hook_client.cache_get(d, a, "ls -l") is None
    assert not hook_client.cache_put(d, a, "ls", "maybe", "x")  # only real decisions


def test_a_tampered_or_foreign_entry_is_ignored(socket_dir: Path) -> None:
    d, digest = str(socket_dir), "c" * 64
    hook_client.cache_put(d, digest, "rm -rf /", "deny", "T3")
    (entry,) = Path(hook_client.cache_dir(d, digest)).iterdir()
    rec = json.loads(entry.read_text())
    entry.write_text(json.dumps({**rec, "line": "0" * 64}))  # claims to be another line
    assert hook_client.cache_get(d, digest, "rm -rf /") is None
    entry.write_text("not json")
    assert hook_client.cache_get(d, digest, "rm -rf /") is None


def test_the_line_itself_is_not_stored(socket_dir: Path) -> None:
    d, digest = str(socket_dir), "d" * 64
    hook_client.cache_put(d, digest, "kubectl -n acme-prod delete pod web-0", "ask", "T2 change")
    (entry,) = Path(hook_client.cache_dir(d, digest)).iterdir()
    assert "web-0" not in entry.read_text()


def test_slow_path_answers_are_cached_and_reused(state: Path, socket_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from generators import hook

    monkeypatch.setattr(hook_client, "ensure", lambda *a: None)  # no server: the slow path answers
    first = _ask(state, _bash("kubectl -n acme-prod delete deploy/orders-api"))
    assert first is not None and len(_entries(socket_dir, state)) == 1

    def never(*a: object) -> None:
        raise AssertionError("the classifier must not load for a cached line")

    monkeypatch.setattr(hook, "build_classifier", never)
    again = _ask(state, _bash("kubectl -n acme-prod delete deploy/orders-api"))
    assert again == first


def test_lines_with_secrets_are_never_cached(state: Path, socket_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hook_client, "ensure", lambda *a: None)
    secret = "curl -H 'Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789' https://api.github.com/user"
    ans = _ask(state, _bash(secret))
    assert ans is not None
    assert _entries(socket_dir, state) == []
    assert not any("ghp_" in p.read_text() for p in socket_dir.rglob("*") if p.is_file())


def test_server_off_uses_no_cache(state: Path, socket_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKPOLICY_HOOK_SERVER", "off")
    assert _ask(state, _bash("kubectl -n acme-prod delete deploy/orders-api")) is not None
    assert list(socket_dir.iterdir()) == []


def test_state_hash_memo_follows_rewrites(tmp_path: Path, socket_dir: Path) -> None:
    f = tmp_path / "state.json"
    f.write_text('{"a": 1}')
    d1, raw = hook_client.state_digest(str(f), str(socket_dir))
    assert raw == b'{"a": 1}' and d1 == hook_client.state_hash(raw)
    assert hook_client.state_digest(str(f), str(socket_dir)) == (d1, None)  # memoised: not read
    tmp = tmp_path / "new.json"
    tmp.write_text('{"a": 2}')
    os.replace(tmp, f)  # as an export rewrites it
    d2, raw2 = hook_client.state_digest(str(f), str(socket_dir))
    assert raw2 == b'{"a": 2}' and d2 != d1
    with open(f, "r+") as fh:  # an in-place edit of the same size
        fh.write('{"a": 3}')
    d3, raw3 = hook_client.state_digest(str(f), str(socket_dir))
    assert raw3 == b'{"a": 3}' and d3 not in (d1, d2)


def test_server_prefills_the_table_and_drops_other_codes_answers(state: Path, socket_dir: Path) -> None:
    digest = _digest(state)
    d = str(socket_dir)
    hook_client.cache_put(d, digest, "echo stale", "allow", "from older code")
    cache = hook_server.DecisionCache(d, digest, "stamp-1")
    assert hook_client.cache_get(d, digest, "echo stale") is None  # no stamp yet: another code's
    table = json.loads(state.read_text())["table"]
    cache.prefill(table)
    command, verdict = next(iter(table.items()))
    assert hook_client.cache_get(d, digest, command) == (verdict["decision"], verdict["reason"])
    hook_server.DecisionCache(d, digest, "stamp-1")  # same code: kept
    assert hook_client.cache_get(d, digest, command) is not None
    hook_server.DecisionCache(d, digest, "stamp-2")  # other code: emptied
    assert hook_client.cache_get(d, digest, command) is None


def test_code_stamp_is_stable() -> None:
    assert hook_server.code_stamp() == hook_server.code_stamp()


def test_cached_call_imports_only_the_standard_library(state: Path, socket_dir: Path) -> None:
    digest = _digest(state)
    hook_client.cache_put(str(socket_dir), digest, "helm upgrade x ./c -n acme-prod", "ask", "T2 change (cached)")
    code = (
        "import io, json, sys\n"
        "from generators.hook import run\n"
        f"ev = {json.dumps(_bash('helm upgrade x ./c -n acme-prod'))!r}\n"
        f"run(io.StringIO(ev), sys.stdout, {str(state)!r})\n"
        "heavy = sorted(m for m in ('pydantic', 'yaml', 'click', 'generators.classify', 'socket', 'typing',\n"
        "                           'hashlib') if m in sys.modules)\n"
        "print(json.dumps(heavy))\n"
    )
    env = {**os.environ, "STACKPOLICY_HOOK_SOCKET_DIR": str(socket_dir)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True, env=env)
    answer, heavy = res.stdout.strip().splitlines()
    assert json.loads(answer)["hookSpecificOutput"]["permissionDecisionReason"] == "stackpolicy: T2 change (cached)"
    assert json.loads(heavy) == []
