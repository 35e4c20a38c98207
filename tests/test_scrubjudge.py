"""The scrub's free text judged in a helper process (inventory.scrubjudge).

The helper must answer exactly what judging in process answers; anything wrong with it
(dead, hung, nonsense, another detector registry) must mean judging in process, never an
assumed "clean"; and a cold scan that stores its inventory must store and return the
scrubbed one, also when a secret is only found by the last line of defence.
"""

from __future__ import annotations

import marshal
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import inventory.scan as scan_mod
import inventory.scanfile as scanfile_mod
from inventory import scrubjudge, secrets, store
from inventory.config import Config
from inventory.scan import scan_paths
from inventory.model import Action, Component, Evidence, Inventory, Resource, Warning
from inventory.scrubjudge import FreeTextJudge, PendingScrub
from tests import test_secrets_scrub as scrub_cases

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
# A password in a connection string: the url-password detector masks it, in free text.
LEAK = "postgres://app:Zq8vN3rT5wXk2pLm@orders-db:5432/orders"
SECRET = "Zq8vN3rT5wXk2pLm"
CLEAN = ["kubectl -n acme-prod get pods", "service:orders-api", "runbooks/orders.md", "token bucket size"]


@pytest.mark.parametrize("values, masks", [(CLEAN, False), (CLEAN + [LEAK], True), ([], False)])
def test_the_helper_answers_what_judging_here_answers(values: list[str], masks: bool) -> None:
    assert secrets._free_text_masks_any(values) is masks
    judge = FreeTextJudge.start()
    assert judge is not None
    judge.submit(values)
    assert judge._answer(60.0) == (b"1" if masks else b"0")  # the helper's own answer
    judge.close()
    again = FreeTextJudge.start()
    assert again is not None
    again.submit(values)
    assert again.masks_any() is masks


@pytest.mark.parametrize("where", [None, 0, scrubjudge.CHUNK + 7, -1])
def test_strings_over_several_chunks_are_all_judged(where: int | None) -> None:
    # The helper answers as soon as a chunk would be masked (the writer then stops), and
    # says clean only once the last chunk is judged.
    values = [f"{text} {i}" for i in range(scrubjudge.CHUNK * 2 + 100) for text in CLEAN[:1]]
    if where is not None:
        values.insert(where if where >= 0 else len(values), LEAK)
    judge = FreeTextJudge.start()
    assert judge is not None
    judge.submit(values)
    assert judge._answer(60.0) == (b"0" if where is None else b"1")
    judge.close()


@pytest.mark.parametrize("where", [None, 0, scrubjudge.CHUNK + 7, -1])
def test_the_verdict_covers_every_chunk_judged_by_the_helper_or_here(where: int | None) -> None:
    # masks_any judges here, from the last back, the chunks the helper was not yet given.
    values = [f"{CLEAN[0]} {i}" for i in range(scrubjudge.CHUNK * 4 + 100)]
    if where is not None:
        values.insert(where if where >= 0 else len(values), LEAK)
    judge = FreeTextJudge.start()
    assert judge is not None
    for start in range(0, len(values), 1000):
        judge.send(values[start : start + 1000])
    judge.end()
    assert judge.masks_any() is (where is not None)


@pytest.mark.parametrize("leak_ahead, leak_later", [(False, False), (True, False), (False, True)])
def test_strings_sent_ahead_are_not_sent_again_and_are_in_the_verdict(leak_ahead: bool, leak_later: bool) -> None:
    ahead = [f"{CLEAN[0]} {i}" for i in range(scrubjudge.CHUNK + 10)] + ([LEAK] if leak_ahead else [])
    later = CLEAN + ahead[::7] + ([LEAK] if leak_later else [])
    judge = FreeTextJudge.start()
    assert judge is not None
    judge.send_ahead(ahead + ahead[:5])  # (given twice: sent twice, judged twice)
    judge.send(later)  # what was sent ahead is left out
    judge.end()
    assert judge._values == ahead + ahead[:5] + [v for v in later if v not in set(ahead)]
    assert judge.masks_any() is (leak_ahead or leak_later)


def test_strings_sent_ahead_to_a_failed_helper_are_judged_here() -> None:
    judge = _judge_running("import sys; sys.exit(3)")
    judge.send_ahead([LEAK])
    judge.send(CLEAN + [LEAK])
    judge.end()
    assert judge.masks_any() is True


def test_the_chunks_the_helper_was_not_given_are_judged_here() -> None:
    # A helper that says "clean" without reading: its writer is stuck on the first chunk, so
    # the last one, with the secret, can only have been judged here.
    judge = _judge_running("import sys, time; sys.stdout.write('0'); sys.stdout.flush(); time.sleep(60)")
    judge.send([f"{CLEAN[0]} {i}" for i in range(scrubjudge.CHUNK * 3)])
    judge.send([LEAK])
    judge.end()
    assert judge.masks_any() is True
    assert judge._proc.poll() is not None  # stopped, not left behind


def _judge_running(code: str) -> FreeTextJudge:
    return FreeTextJudge(subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))


@pytest.mark.parametrize("code", [
    "import sys; sys.exit(3)",                                     # dies before reading anything
    "import sys; sys.stdin.buffer.read(); sys.stdout.write('x')",  # answers nonsense
    "import sys; sys.stdin.buffer.read()",                         # answers nothing
])
@pytest.mark.parametrize("values, masks", [(CLEAN, False), (CLEAN + [LEAK], True)])
def test_a_helper_that_fails_means_judging_here(code: str, values: list[str], masks: bool) -> None:
    judge = _judge_running(code)
    judge.submit(values)
    assert judge.masks_any() is masks


def _serve(stream: bytes) -> bytes:
    """What the real helper answers to ``stream`` on its stdin."""
    done = subprocess.run([sys.executable, "-c", "from inventory.judgeserve import serve; serve()"], input=stream,
                          capture_output=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
    return done.stdout


def _framed(*payloads: bytes) -> bytes:
    return b"".join(scrubjudge._LENGTH.pack(len(p)) + p for p in payloads)


@pytest.mark.parametrize("payload, answer", [
    (marshal.dumps(CLEAN, 2), b"0"),          # the writer's chunks: judged
    (marshal.dumps(CLEAN + [LEAK], 2), b"1"),
    (marshal.dumps({"not": "a list"}, 2), b"1"),  # a chunk of another shape: masks
    (b"\xff\x00 not marshal", b""),                          # unreadable: no answer (judged here)
])
def test_the_helper_judges_the_writers_chunks_and_never_says_clean_to_anything_else(payload: bytes, answer: bytes) -> None:
    assert _serve(_framed(payload, b"")) == answer


def test_a_value_the_writer_cannot_send_ends_the_stream_without_an_answer() -> None:
    # The writer closes the helper's stdin when a chunk cannot be written: the helper then
    # answers nothing at once, and the verdict is the caller's own (not a wait for the timeout).
    judge = FreeTextJudge.start()
    assert judge is not None
    judge.submit([*CLEAN, object()])  # type: ignore[list-item]
    assert judge._proc.wait(timeout=30) == 0  # it saw the stream end (else it would wait on)
    assert judge._answer(1.0) is None
    judge.close()


needs_writer = pytest.mark.skipif(scrubjudge._write_strings is None, reason="the _cbuild extension (write_strings) is not built")


@needs_writer
@pytest.mark.parametrize("values", [CLEAN + [LEAK], [], [""], ["café", "日本語 𝄞", "lone \ud800 surrogate", "x" * 30_000]])  # (less than a pipe holds: read once written)
def test_the_c_writer_writes_the_chunks_marshal_writes(values: list[str]) -> None:
    import os

    read_fd, write_fd = os.pipe()
    try:
        scrubjudge._write_strings(write_fd, values)  # type: ignore[misc]
        os.close(write_fd)
        write_fd = -1
        data = b""
        while chunk := os.read(read_fd, 1 << 20):
            data += chunk
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    payload = marshal.dumps(values, 2)
    assert data == scrubjudge._LENGTH.pack(len(payload)) + payload


@needs_writer
def test_the_c_writer_refuses_what_is_not_a_list_of_strings_and_raises_what_write_raises() -> None:
    import os

    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        for bad in (("x",), ["a", 1], ["a", b"b"], "ab"):
            with pytest.raises(TypeError):
                scrubjudge._write_strings(write_fd, bad)  # type: ignore[misc]
        with pytest.raises(OSError):  # the reader is gone: EPIPE, not a signal
            scrubjudge._write_strings(write_fd, ["a"])  # type: ignore[misc]
    finally:
        os.close(write_fd)


@pytest.mark.parametrize("values, masks", [(CLEAN, False), (CLEAN + [LEAK], True)])
def test_the_helper_is_fed_the_same_without_the_c_writer(values: list[str], masks: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scrubjudge, "_write_strings", None)
    judge = FreeTextJudge.start()
    assert judge is not None
    judge.send(values[:2])
    judge.submit(values[2:])
    assert judge._answer(30.0) == (b"1" if masks else b"0")
    judge.close()


def test_a_hung_helper_is_stopped_and_the_text_judged_here() -> None:
    judge = _judge_running("import time; time.sleep(60)")
    judge.submit(CLEAN + [LEAK])
    assert judge.masks_any(timeout=0.5) is True
    assert judge._proc.poll() is not None  # stopped, not left behind


def test_no_helper_once_the_detectors_are_not_the_built_in_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh interpreter would judge with the built-in detectors only.
    monkeypatch.setattr(secrets, "_BUILT_IN", True)
    assert secrets.detectors_are_built_in()
    detector = secrets.RegexDetector("team-token", ("acme_",), secrets._rx(r"acme_[a-z0-9]{8}"))
    secrets.register(detector)
    try:
        assert not secrets.detectors_are_built_in()
        assert FreeTextJudge.start() is None
    finally:
        secrets.unregister("team-token")


def _leaky_scan_one(real):  # type: ignore[no-untyped-def]
    """``_scan_one`` with a secret left in the first component's attributes, as a buggy scanner would."""
    def scan_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        frags = scan_mod._FRAGMENT_STORE.load_many(real(*args, **kwargs))
        for frag in frags:
            for comp in frag.components:
                comp.attributes["notes"] = f"migrated from {LEAK}"
        return scan_mod._FRAGMENT_STORE.dump_many(frags)
    return scan_one


def _leaky_commands_scan_one(real):  # type: ignore[no-untyped-def]
    """``_scan_one`` with a secret left in every command sighted, as a buggy scanner would: in
    the commands of the actions made of them, whose text is sent to the helper ahead."""
    def scan_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        frags = scan_mod._FRAGMENT_STORE.load_many(real(*args, **kwargs))
        for frag in frags:
            for sighting in frag.commands:
                sighting.command = f"{sighting.command}  # {LEAK}"
        return scan_mod._FRAGMENT_STORE.dump_many(frags)
    return scan_one


@pytest.mark.parametrize("leaky", [False, True, "commands"])
def test_a_stored_cold_scan_judged_by_the_helper_stores_what_judging_here_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaky: bool | str) -> None:
    if leaky:
        leak = _leaky_commands_scan_one if leaky == "commands" else _leaky_scan_one
        monkeypatch.setattr(scanfile_mod, "_scan_one", leak(scanfile_mod._scan_one))  # the workers' own
    sent_ahead: list[str] = []
    real_ahead = FreeTextJudge.send_ahead
    monkeypatch.setattr(FreeTextJudge, "send_ahead", lambda self, values: sent_ahead.extend(values) or
                        real_ahead(self, values))
    started: list[FreeTextJudge | None] = []
    real_start = FreeTextJudge.start
    monkeypatch.setattr(FreeTextJudge, "start", classmethod(lambda cls: started.append(real_start()) or started[-1]))

    monkeypatch.setattr(scan_mod, "JUDGE_FROM_FILES", 10**9)
    here, _ = scan_paths([EXAMPLE], Config(), cache_dir=tmp_path / "here", jobs=1)
    assert started == []
    monkeypatch.setattr(scan_mod, "JUDGE_FROM_FILES", 0)
    helped, _ = scan_paths([EXAMPLE], Config(), cache_dir=tmp_path / "helped", jobs=1)
    assert len(started) == 1 and started[0] is not None

    assert helped.digest() == here.digest()
    dumped = helped.model_dump_json()
    assert SECRET not in dumped
    assert (f"migrated from postgres://app:{secrets.REDACTED}@" in dumped) is (leaky is True)
    assert (f"# postgres://app:{secrets.REDACTED}@" in dumped) is (leaky == "commands")
    # The ids and commands of the actions the build made went ahead (the leaked ones among them).
    assert {a.id for a in helped.actions if a.origin in ("command", "implied")} <= set(sent_ahead)
    assert any(SECRET in text for text in sent_ahead) is (leaky == "commands")
    # The stored inventory is the scrubbed one: on disk, and as the rescan returns it. (The
    # per-file cache keeps what this test's "scanner" made; the scrub is over the inventory.)
    blobs = _stored_blobs(tmp_path / "helped")
    assert len(blobs) == 3 and all(SECRET.encode() not in blob for blob in blobs)  # two rows naming one file
    assert len(blobs[-1]) > 1000  # the file: the inventory itself
    again, stats = scan_paths([EXAMPLE], Config(), cache_dir=tmp_path / "helped", jobs=1)
    assert stats.cache_hits and again.digest() == here.digest()


def _stored_blobs(cache: Path) -> list[bytes]:
    """Every stored inventory's bytes: the cache's rows and its trees' inventory files."""
    db = sqlite3.connect(cache / "scan.sqlite")
    try:
        rows = [row[0] for table in ("inventories", "trees") for row in db.execute(f"SELECT value FROM {table}")]
    finally:
        db.close()
    files = sorted((cache / "trees").glob("*.bin"))  # (not the walks' stats kept beside them: paths and stats)
    return rows + [f.read_bytes() for f in files]


@pytest.mark.parametrize("leaky", [False, True])
def test_a_rescan_of_a_changed_tree_judged_by_the_helper_stores_the_scrubbed_inventory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaky: bool) -> None:
    # A changed tree is rebuilt through scan_paths' own passes (not the streamed cold scan).
    tree = tmp_path / "tree"
    shutil.copytree(EXAMPLE, tree)
    if leaky:
        monkeypatch.setattr(scan_mod, "_scan_one", _leaky_scan_one(scan_mod._scan_one))
    monkeypatch.setattr(scan_mod, "JUDGE_FROM_FILES", 0)
    scan_paths([tree], Config(), cache_dir=tmp_path / "cache", jobs=1)
    with (tree / "runbooks" / "cache-flush.md").open("a") as fh:
        fh.write("\n```sh\nkubectl -n acme-prod get pods\n```\n")
    started: list[FreeTextJudge | None] = []
    real_start = FreeTextJudge.start
    monkeypatch.setattr(FreeTextJudge, "start", classmethod(lambda cls: started.append(real_start()) or started[-1]))
    helped, stats = scan_paths([tree], Config(), cache_dir=tmp_path / "cache", jobs=1)
    assert len(started) == 1 and started[0] is not None and stats.cache_hits < stats.files_scanned

    monkeypatch.setattr(scan_mod, "JUDGE_FROM_FILES", 10**9)
    here, _ = scan_paths([tree], Config(), cache_dir=tmp_path / "fresh", jobs=1)
    assert helped.digest() == here.digest()
    assert SECRET not in helped.model_dump_json()
    assert all(SECRET.encode() not in blob for blob in _stored_blobs(tmp_path / "cache"))


def test_a_failing_build_stops_the_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    judges: list[FreeTextJudge] = []
    real_start = FreeTextJudge.start
    monkeypatch.setattr(FreeTextJudge, "start", classmethod(lambda cls: judges.append(real_start()) or judges[-1]))
    monkeypatch.setattr(scan_mod, "JUDGE_FROM_FILES", 0)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a build step fails")

    monkeypatch.setattr("inventory.actions.actions_from_commands", broken)
    with pytest.raises(RuntimeError):
        scan_paths([EXAMPLE], Config(), cache_dir=tmp_path / "cache", jobs=1)
    assert len(judges) == 1 and judges[0]._proc.poll() is not None


def test_the_helper_imports_only_what_judging_needs() -> None:
    # It is a fresh interpreter beside a scan at its memory peak, starting on the scan's one
    # spare core: no scanner, no command parser, no model, not even pydantic.
    code = ("import sys, inventory.judgeserve as j, inventory.secrets as s; s._free_text_masks_any(['x']); "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(scrubjudge.__file__).resolve().parents[1])
    loaded = set(out.stdout.split())
    assert "inventory.secrets" in loaded
    assert not {m for m in loaded if m.startswith(("inventory.scanners", "inventory.commands", "inventory.actions",
                                                     "inventory.model", "pydantic", "subprocess", "threading"))}
    judge = FreeTextJudge.start()  # and that is what the helper runs
    assert judge is not None
    try:
        assert "from inventory.judgeserve import serve" in " ".join(judge._proc.args)  # type: ignore[arg-type]
    finally:
        judge.close()


class _RecordingJudge:
    """A stand-in for the helper: keeps every string it is sent and judges them here."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.ended = False

    def send(self, values: list[str]) -> None:
        assert not self.ended
        self.sent += values

    def end(self) -> None:
        self.ended = True

    def masks_any(self) -> bool:
        assert self.ended
        return secrets._free_text_masks_any(self.sent)

    def close(self) -> None:
        pass


def _stored_case(inv: Inventory) -> PendingScrub | None:
    """Judged as the inventory is encoded (PendingScrub.stored_form), ``inv`` gets the verdict
    the scrub's own walk gives, the helper having been sent every string that walk judges as
    free text, and the stored form is the same; the pending scrub, or None when ``inv`` is
    not stored (a model in a field of another model's class, with or without the judging)."""
    judge = _RecordingJudge()
    pending = PendingScrub(inv, judge)  # type: ignore[arg-type]
    try:
        parts = pending.stored_form()
    except (KeyError, AttributeError):
        return None
    try:
        plain = store.dump_parts(inv)
    except TypeError:
        plain = None
    assert parts == plain
    free, keyed = secrets._judged_strings(inv)
    if judge.ended:  # else a value under a secret-looking key was masked: no free text needed
        assert free <= set(judge.sent)
        assert not any(secrets.redact_value(key, value)[1] for key, value in keyed)
    assert (judge.masks_any() if judge.ended else True) is secrets._masks_any_model(inv)
    return pending


@pytest.mark.parametrize("name", sorted(scrub_cases.CASES))
def test_judging_while_the_stored_form_is_encoded_scrubs_what_the_scrub_does(name: str) -> None:
    inv = scrub_cases.CASES[name]
    pending = _stored_case(inv)
    assert pending is not None
    expected = secrets.scrub_inventory(inv)
    got = pending.result()
    assert got.model_dump() == expected.model_dump()
    assert (got is inv) is (expected is inv)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cls", list(scrub_cases._SAMPLES), ids=lambda c: c.__name__)
def test_judging_while_the_stored_form_is_encoded_sees_every_field_whatever_it_holds(cls: type) -> None:
    for field in cls.model_fields:
        for value in scrub_cases._SHAPES.values():
            if cls is Evidence and (field != "path" or not isinstance(value, str)):
                continue  # as in test_secrets_scrub: judged by its path alone
            obj = scrub_cases._SAMPLES[cls].model_copy(update={field: value})
            inv = obj if cls is Inventory else Inventory(components=[scrub_cases._component()]).model_copy(
                update={"warnings": [obj]} if cls is Warning else {})
            if cls is Component:
                inv = Inventory(components=[obj])
            elif cls is Resource:
                inv = Inventory(resources=[obj])
            elif cls is Action:
                inv = Inventory(actions=[obj])
            _stored_case(inv)


def test_a_stored_form_judged_beside_is_stored_as_without() -> None:
    inv = scan_paths([EXAMPLE], Config(), use_cache=False, jobs=1)[0]
    judge = _RecordingJudge()
    assert PendingScrub(inv, judge).stored_form() == store.dump_parts(inv)  # type: ignore[arg-type]
    free, _ = secrets._judged_strings(inv)
    assert free <= set(judge.sent) and judge.ended
