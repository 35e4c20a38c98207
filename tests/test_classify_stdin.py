"""`classify --stdin` answers every input line exactly once, in order, and fails closed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generators.classify import Classifier
from generators.cli.classify_cmd import classify_bytes, read_lines

ROOT = Path(__file__).resolve().parents[1]


def _cli(stdin: bytes, *args: str) -> list[str]:
    proc = subprocess.run([str(Path(sys.executable).parent / "stackpolicy"), "classify", "--stdin", *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr
    return proc.stdout.decode("utf-8").splitlines()


HOSTILE = [
    b"kubectl get pods",
    b"",
    b"   ",
    b"\xff\xfe\xfa kubectl get pods",
    b"kubectl delete ns prod",
    b"ls \x00 -la",
    b"echo 'unbalanced",
    b"kubectl get pods\r",
    b"terraform destroy",
]


@pytest.mark.parametrize("json_flag", [True, False])
def test_one_answer_per_line_in_order(json_flag: bool) -> None:
    args = ("--json",) if json_flag else ()
    out = _cli(b"\n".join(HOSTILE) + b"\n", *args)
    assert len(out) == len(HOSTILE)
    if json_flag:
        rows = [json.loads(line) for line in out]
        tiers = [r["tier"] for r in rows]
        assert tiers[0] == "T0"
        assert tiers[1] == tiers[2] == "T2"  # blank: a human decides
        assert tiers[3] == "T2" and any("UTF-8" in r for r in rows[3]["reasons"])
        assert tiers[4] == "T3"
        assert tiers[5] == "T2" and any("NUL" in r for r in rows[5]["reasons"])
        assert tiers[6] in ("T2", "T3")
        assert tiers[7] == "T0" and rows[7]["command"] == "kubectl get pods"
        assert tiers[8] == "T3"
    else:
        assert out[0].startswith("T0") and out[4].startswith("T3") and out[8].startswith("T3")
        assert out[1].startswith("T2") and "empty command" in out[1]


def test_last_line_without_newline_is_answered() -> None:
    assert len(_cli(b"kubectl get pods\nkubectl delete ns prod", "--json")) == 2


def test_over_long_line_is_cut_and_answered_without_holding_it() -> None:
    stream = io.BytesIO(b"a" * 50 + b"\n" + b"b" * 5000 + b"\nls\n")
    got = list(read_lines(stream, max_bytes=1000))
    assert [(len(r), cut) for r, cut in got] == [(50, False), (1000, True), (2, False)]
    c = classify_bytes(Classifier(), got[1][0], cut=True)
    assert c.tier == "T2" and "too long" in c.reasons[0]


def test_time_bound_answers_t2_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = Classifier()

    def slow(line: str):
        import time
        end = time.process_time() + 10  # busy: the bound counts CPU time
        while time.process_time() < end:
            pass

    monkeypatch.setattr(classifier, "classify", lambda line: slow(line) if line else Classifier.classify(classifier, line))
    c = classify_bytes(classifier, b"kubectl get pods", seconds=0.2)
    assert c.tier == "T2" and "more than 0.2 s of CPU time" in c.reasons[0]


def test_time_bound_holds_with_the_handler_installed_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from generators.cli.classify_cmd import line_alarms

    classifier = Classifier()

    def slow(line: str):
        import time
        end = time.process_time() + 10
        while time.process_time() < end:
            pass

    monkeypatch.setattr(classifier, "classify", lambda line: slow(line) if line else Classifier.classify(classifier, line))
    before = signal.getsignal(signal.SIGVTALRM)
    with line_alarms():
        first = classify_bytes(classifier, b"kubectl get pods", seconds=0.2)
        second = classify_bytes(classifier, b"kubectl get nodes", seconds=0.2)
    assert [first.tier, second.tier] == ["T2", "T2"]
    assert all("more than 0.2 s of CPU time" in c.reasons[0] for c in (first, second))
    assert signal.getsignal(signal.SIGVTALRM) == before  # the run's handler is gone afterwards


def test_classifier_error_is_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = Classifier()

    def boom(line: str):
        if line:
            raise RuntimeError("bug")
        return Classifier.classify(classifier, line)

    monkeypatch.setattr(classifier, "classify", boom)
    c = classify_bytes(classifier, b"kubectl get pods")
    assert c.tier == "T2" and "failed" in c.reasons[0]


def test_invalid_utf8_never_lowers_a_dangerous_line() -> None:
    c = classify_bytes(Classifier(), b"kubectl delete ns prod \xff")
    assert c.tier == "T3"


def test_workers_answer_every_line_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from generators.cli import classify_cmd
    from generators.cli.classify_cmd import answer_lines, as_json

    monkeypatch.setattr(classify_cmd, "PARALLEL_AFTER", 5)
    monkeypatch.setattr(classify_cmd, "CHUNK", 3)
    items = [(f"kubectl get pods -n team-{i}".encode(), False) for i in range(40)]
    items[17] = (b"kubectl delete ns prod", False)
    items[23] = (b"", False)
    items[31] = (b"\xff\xfe", False)
    classifier = Classifier()
    serial = list(answer_lines(classifier, items, as_json, jobs=1))
    parallel = list(answer_lines(Classifier(), items, as_json, jobs=2))
    assert len(parallel) == len(items) and parallel == serial
    assert '"tier":"T3"' in parallel[17] and 'empty command' in parallel[23]


def test_a_worker_that_dies_loses_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-run (OOM killer, a crash in native code): the lines it held are
    answered by the parent, in order, exactly as the serial run answers them."""
    import os

    from generators.cli import classify_cmd
    from generators.cli.classify_cmd import answer_lines, as_json

    monkeypatch.setattr(classify_cmd, "PARALLEL_AFTER", 4)
    monkeypatch.setattr(classify_cmd, "CHUNK", 3)
    parent = os.getpid()
    real_work = classify_cmd._work

    def dying(item: tuple[bytes, bool]) -> str:
        if item[0] == b"kubectl delete ns prod" and os.getpid() != parent:
            os._exit(3)  # the worker dies holding this chunk (and the ones queued behind it)
        return real_work(item)

    monkeypatch.setattr(classify_cmd, "_work", dying)
    items = [(f"kubectl get pods -n team-{i}".encode(), False) for i in range(60)]
    items[20] = (b"kubectl delete ns prod", False)
    serial = list(answer_lines(Classifier(), items, as_json, jobs=1))
    parallel = list(answer_lines(Classifier(), items, as_json, jobs=2))
    assert parallel == serial
    assert '"tier":"T3"' in parallel[20]


def test_workers_answer_a_stream_as_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers come out while the input is still being read: at most two chunks per worker
    are read ahead of the answers (a stream, e.g. an audit log, is never held to its end)."""
    from generators.cli import classify_cmd
    from generators.cli.classify_cmd import answer_lines, as_json

    monkeypatch.setattr(classify_cmd, "PARALLEL_AFTER", 4)
    monkeypatch.setattr(classify_cmd, "CHUNK", 5)
    read = 0

    def stream():
        nonlocal read
        for i in range(400):
            read += 1
            yield f"kubectl get pods -n team-{i}".encode(), False

    seen = []
    for n, answer in enumerate(answer_lines(Classifier(), stream(), as_json, jobs=2)):
        seen.append(read - n)  # lines read but not yet answered
        assert '"tier":"T0"' in answer
    assert len(seen) == 400
    # Read ahead: the chunks in flight (two per worker), the one the feeder holds, the one being answered.
    assert max(seen) <= (2 * 2 + 2) * 5 + 1


def test_repeated_lines_get_the_same_answer_and_time_outs_are_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """--stdin keeps its printed answers by line (the classifier keeps no verdicts then): a
    repeated line prints what it printed before; a line that timed out is classified again."""
    from generators.cli import classify_cmd
    from generators.cli.classify_cmd import answer_lines, as_json

    lines = [b"kubectl delete ns prod", b"kubectl get pods", b"kubectl delete ns prod", b"kubectl get pods"]
    classifier = Classifier(cache=False)
    answers = list(answer_lines(classifier, [(raw, False) for raw in lines], as_json, jobs=1))
    assert answers[0] == answers[2] and answers[1] == answers[3]
    assert answers == [as_json(Classifier().classify(raw.decode())) for raw in lines]
    assert classifier.verdicts() == {}

    slow = Classifier(cache=False)
    calls = []
    real = slow.classify

    def slow_first(line: str):
        if not line:  # the fallback answer's own template
            return real(line)
        calls.append(line)
        if len(calls) == 1:
            raise classify_cmd._LineTimeout()  # what the per-line CPU alarm raises
        return real(line)

    monkeypatch.setattr(slow, "classify", slow_first)
    again = list(answer_lines(slow, [(b"kubectl get pods -A", False)] * 3, as_json, jobs=1))
    assert len(calls) == 2  # the timed-out answer was not kept; the settled one was
    assert "took more than" in again[0] and "took more than" not in again[1] and again[1] == again[2]


def test_long_wrapper_chains_are_linear_and_fail_closed() -> None:
    classifier = Classifier()
    assert classifier.classify("sudo " * 100_000 + "rm -rf /").tier == "T3"
    assert classifier.classify("env " * 40 + "kubectl delete ns prod").tier == "T3"
    mixed = classifier.classify("env sudo " * 20_000 + "rm -rf /")
    assert mixed.tier in ("T2", "T3") and mixed.decision != "allow"
