"""`stackpolicy classify`: the tier (and allow / ask / deny) of a command an agent wants to run.

``--stdin`` answers every input line with exactly one output line, in order, whatever the
line holds: a blank line, invalid UTF-8, a NUL byte, a huge line or a line the classifier
chokes on all get an answer (at least T2, ask) that says why. Nothing is skipped, so answer
*n* always belongs to input line *n*.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

import click

from generators.classify import Classification, Classifier, PolicyError, load_decision_table
from generators.cli.common import UsageError, get_config
from generators.risk.model import DECISION_FOR_TIER, max_tier, tier_index
from generators.risk.rules import RulesError, rules_from_config

if TYPE_CHECKING:  # multiprocessing is imported only for long inputs
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

# Per-line bounds for --stdin: bytes read for one line, and seconds spent classifying it.
MAX_LINE_BYTES = 1_000_000
LINE_SECONDS = 2.0
# Long inputs are classified by worker processes (forked after the classifier is built, so
# they share its rules and inventory); answers still come out one per line, in order. The
# first lines are answered in-process, so a short input never pays for starting workers (two
# forks cost about as much as classifying a few dozen lines; the head runs on one core).
PARALLEL_AFTER = 64
CHUNK = 64


def readable(c: Classification) -> str:
    """One human line: tier, decision, the command, what it matched, and why."""
    where = f" [{c.matched_action or c.matched_target}]" if (c.matched_action or c.matched_target) else ""
    # The reasons already start with the tier label; drop the repetition.
    prefix = f"{c.tier} {c.tier_name}: "
    why = " | ".join(r[len(prefix):] if r.startswith(prefix) else r for r in c.reasons)
    # One answer is one output line, whatever control characters the command holds.
    command = c.command.replace("\r", "\\r").replace("\n", "\\n")
    return f"{c.tier} {c.tier_name} ({c.decision}){where}: {command}  -- {why}"


def as_json(c: Classification) -> str:
    """One JSON object on one line (stable key order; pydantic's serializer is the fast path),
    with ``opa_input``: the line's facts for the OPA export (never its tier or decision)."""
    global _OPA_INPUT
    if _OPA_INPUT is None:  # imported on first use (an import statement per line costs ~1 µs)
        from generators.exporters.opa_input import opa_input

        _OPA_INPUT = opa_input
    return c.model_dump_json()[:-1] + ',"opa_input":' + _ENCODE(_OPA_INPUT(c)) + "}"


_OPA_INPUT: Callable[[Classification], dict] | None = None


def _encoder() -> Callable[[object], str]:
    """``json.dumps(obj, ensure_ascii=False)``, with its C encoder built once: ``dumps`` builds
    one per call (~4 µs, once per answered line). No circular-reference check: the facts are a
    tree of plain values."""
    base = json.JSONEncoder(ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the standard path
        return base.encode
    enc = make(None, base.default, json.encoder.encode_basestring, None, base.key_separator, base.item_separator,
               False, False, True)
    return lambda obj: "".join(enc(obj, 0))


_ENCODE = _encoder()


def make_classifier(ctx: click.Context, inventory: str | None, policy: str | None, cache: bool = True) -> Classifier:
    """Rules from the config, the inventory index and the policy, loaded once (``cache``: keep
    verdicts by line; see :class:`~generators.classify.Classifier`)."""
    cfg = get_config(ctx)
    try:
        rules = rules_from_config(cfg)
    except RulesError as exc:
        raise UsageError(str(exc)) from exc
    index = None
    if inventory:
        from generators.risk.assess import build_index
        from inventory.io import InventoryLoadError, load_inventory

        try:
            index = build_index(load_inventory(inventory), cfg.environments)
        except InventoryLoadError as exc:
            raise UsageError(str(exc)) from exc
    table = None
    if policy:
        try:
            table = load_decision_table(policy)
        except PolicyError as exc:
            raise UsageError(str(exc)) from exc
    return Classifier(rules, index, table, cache=cache)


class _LineTimeout(BaseException):
    """Raised by the per-line alarm; a BaseException so no ``except Exception`` swallows it."""


def read_lines(stream: BinaryIO, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[bytes, bool]]:
    """``(line without its newline, cut)`` for every line of ``stream``; ``cut`` when the line
    was longer than ``max_bytes`` (the rest of it is read and dropped, never kept in memory)."""
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        if chunk.endswith(b"\n"):
            yield chunk[:-1], False
            continue
        if len(chunk) <= max_bytes:  # the last line, without a final newline
            yield chunk, False
            return
        while True:  # skip to the end of an over-long line
            rest = stream.readline(1 << 16)
            if not rest or rest.endswith(b"\n"):
                break
        yield chunk[:max_bytes], True


def _floor(c: Classification, classifier: Classifier, why: str) -> Classification:
    """``c`` raised to at least the unknown class's tier, with ``why`` among its reasons."""
    unknown = classifier.rules.classes["unknown"].tier
    tier = max_tier(c.tier, unknown)
    reason = f"{classifier.rules.tier_label(tier)}: {why}, so a human decides"
    if tier_index(tier) == tier_index(c.tier) and tier != unknown:
        return c.model_copy(update={"reasons": [*c.reasons, reason]})
    return c.model_copy(update={"tier": tier, "tier_name": classifier.rules.tiers[tier].name,
                                "decision": DECISION_FOR_TIER[tier], "reasons": [*c.reasons, reason]})


def _fixed(classifier: Classifier, text: str, why: str) -> Classification:
    """An answer without classifying: the unknown class's tier and ``why``."""
    return _floor(classifier.classify(""), classifier, why).model_copy(
        update={"command": text, "reasons": [f"{classifier.rules.tier_label(classifier.rules.classes['unknown'].tier)}: "
                                             f"{why}, so a human decides"]})


# Whether the per-line CPU-time alarm exists here (not on Windows).
_HAS_ITIMER = hasattr(signal, "setitimer")


def _expire(signum: int, frame: object) -> None:
    raise _LineTimeout()


# Whether :func:`_expire` is installed for a whole run of lines (see :func:`line_alarms`), so
# each line only arms the timer instead of swapping the handler twice.
_ALARM_INSTALLED = False


@contextlib.contextmanager
def line_alarms() -> Iterator[None]:
    """Install the per-line CPU-time alarm's handler once for a run of :func:`classify_bytes` calls."""
    global _ALARM_INSTALLED
    if _ALARM_INSTALLED or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGVTALRM, _expire)
    _ALARM_INSTALLED = True
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, old)
        _ALARM_INSTALLED = False


def classify_bytes(classifier: Classifier, raw: bytes, cut: bool = False,
                   seconds: float | None = LINE_SECONDS) -> Classification:
    """The answer for one raw input line. Never raises; every problem is a reason."""
    return _classify_bytes(classifier, raw, cut, seconds)[0]


def _classify_bytes(classifier: Classifier, raw: bytes, cut: bool = False,
                    seconds: float | None = LINE_SECONDS) -> tuple[Classification, bool]:
    """:func:`classify_bytes`, and whether the classifier settled the line (not a time-out or a
    failure, which a later copy of the line tries again)."""
    raw = raw[:-1] if raw.endswith(b"\r") else raw
    text = raw.decode("utf-8", errors="replace")
    if cut:
        return _fixed(classifier, text[:200] + "...", f"the line is longer than {MAX_LINE_BYTES:,} bytes, "
                                                      "too long to review"), False
    bad_utf8 = "\ufffd" in text and "\ufffd".encode() not in raw
    alarm = seconds is not None and _HAS_ITIMER and threading.get_ident() == threading.main_thread().ident
    own_handler = alarm and not _ALARM_INSTALLED
    old = None
    try:
        if own_handler:
            old = signal.signal(signal.SIGVTALRM, _expire)
        if alarm:
            # CPU time, not wall time: a busy machine must not turn a slow schedule into a T2.
            signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
        try:
            result = classifier.classify(text)
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            if own_handler:
                signal.signal(signal.SIGVTALRM, old)
    except _LineTimeout:
        return _fixed(classifier, text if len(text) <= 200 else text[:200] + "...",
                      f"classifying the line took more than {seconds:g} s of CPU time"), False
    except Exception as exc:  # noqa: BLE001 - one bad line must not cost the answers to the rest
        return _fixed(classifier, text if len(text) <= 200 else text[:200] + "...",
                      f"the classifier failed on this line ({type(exc).__name__})"), False
    if bad_utf8:
        # What the shell runs is the raw bytes, not this text: a human looks.
        result = _floor(result, classifier, "the line is not valid UTF-8")
    return result, True


# Answers kept by raw line in a `--stdin` run (an audit log repeats its lines): the printed
# text, one string per line, instead of the classifier's verdict objects.
ANSWERS_KEPT = 50_000


def _answer(classifier: Classifier, emit: Callable[[Classification], str], kept: dict[bytes, str], raw: bytes,
            cut: bool) -> str:
    """The printed answer for one input line; a line answered before gets the same text."""
    if not cut:
        hit = kept.get(raw)
        if hit is not None:
            return hit
    c, settled = _classify_bytes(classifier, raw, cut)
    out = emit(c)
    if settled:
        if len(kept) >= ANSWERS_KEPT:
            kept.clear()
        kept[raw] = out
    return out


_WORKER: Classifier | None = None
_EMIT: Callable[[Classification], str] | None = None
_KEPT: dict[bytes, str] = {}


def _init_worker() -> None:
    # A forked worker inherits the parent's handler; installing it again here makes sure the
    # timer never fires into the default action (which would kill the worker).
    global _ALARM_INSTALLED
    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGVTALRM, _expire)
        _ALARM_INSTALLED = True


def _work(item: tuple[bytes, bool]) -> str:
    assert _WORKER is not None and _EMIT is not None
    return _answer(_WORKER, _EMIT, _KEPT, item[0], item[1])


def _serve(tasks: Connection, results: Connection) -> None:
    """A worker's loop: answer each chunk of lines it is sent, in order, until ``None``."""
    _init_worker()
    while True:
        chunk = tasks.recv()
        if chunk is None:
            return
        results.send([_work(item) for item in chunk])


def jobs_for_stdin() -> int:
    """Worker processes for a long ``--stdin`` input: ``STACKPOLICY_CLASSIFY_JOBS`` or the CPU count (max 8)."""
    raw = os.environ.get("STACKPOLICY_CLASSIFY_JOBS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(os.cpu_count() or 1, 8))


def answer_lines(classifier: Classifier, items: Iterable[tuple[bytes, bool]], emit: Callable[[Classification], str],
                 jobs: int = 1) -> Iterator[str]:
    """One answer per input item, in input order. With ``jobs > 1`` and more than
    :data:`PARALLEL_AFTER` lines, the lines after the first ones go to forked workers. A line
    seen before (up to :data:`ANSWERS_KEPT` of them, per process) gets the text it got then,
    unless that answer was a time-out or a failure."""
    for block in answer_blocks(classifier, items, emit, jobs):
        yield from block


def answer_blocks(classifier: Classifier, items: Iterable[tuple[bytes, bool]], emit: Callable[[Classification], str],
                  jobs: int = 1) -> Iterator[list[str]]:
    """:func:`answer_lines` in the blocks they become ready in: one answer at a time when
    answered here, a worker's whole chunk at once (so a writer writes each block once)."""
    it = iter(items)
    kept: dict[bytes, str] = {}
    head = list(itertools.islice(it, PARALLEL_AFTER))
    for raw, cut in head:
        yield [_answer(classifier, emit, kept, raw, cut)]
    if len(head) < PARALLEL_AFTER:
        return
    import multiprocessing  # only for long inputs: its import is start-up time

    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for raw, cut in it:
            yield [_answer(classifier, emit, kept, raw, cut)]
        return
    yield from _answer_in_workers(classifier, it, emit, jobs, kept)


class _Worker:
    """One forked classifier process and the two pipes to it."""

    def __init__(self, ctx: BaseContext) -> None:
        task_r, self.tasks = ctx.Pipe(duplex=False)
        self.results, result_w = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve, args=(task_r, result_w), daemon=True)
        self.process.start()
        # The child's ends are the child's alone: when it dies, sending to it fails and
        # reading from it ends, so its lines are never waited for.
        task_r.close()
        result_w.close()
        self.alive = True


def _answer_in_workers(classifier: Classifier, it: Iterator[tuple[bytes, bool]], emit: Callable[[Classification], str],
                       jobs: int, kept: dict[bytes, str]) -> Iterator[list[str]]:
    """The answers to ``it`` from ``jobs`` forked workers, in input order, one block per chunk.

    Chunks of :data:`CHUNK` lines go to the workers in turn (a feeder thread sends them, so a
    worker that is busy writing answers never blocks the parent reading them); the answers are
    read back in the same turn, so they come out in input order. At most two chunks per worker
    are in flight, so a stream is answered as it is read. A worker that dies has its chunks
    answered here instead: every line still gets its one answer.

    Written for this job rather than with ``multiprocessing.Pool``, whose worker-handler thread
    wakes on every pending result and spins on the parent's CPU (a fifth of a core here).
    """
    import multiprocessing
    import queue

    global _WORKER, _EMIT, _KEPT
    _WORKER, _EMIT, _KEPT = classifier, emit, kept  # what each forked worker starts from
    ctx = multiprocessing.get_context("fork")
    workers: list[_Worker] = []
    sent: queue.SimpleQueue[tuple[list[tuple[bytes, bool]], bool] | BaseException | None] = queue.SimpleQueue()
    room = threading.Semaphore(2 * jobs)
    stop = threading.Event()

    def feed() -> None:
        try:
            for k in itertools.count():
                chunk = list(itertools.islice(it, CHUNK))
                if not chunk:
                    break
                while not room.acquire(timeout=0.5):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                w = workers[k % jobs]
                ok = w.alive
                if ok:
                    try:
                        w.tasks.send(chunk)
                    except (OSError, ValueError):  # the worker is gone: its lines are answered here
                        ok = False
                sent.put((chunk, ok))
        except BaseException as exc:  # noqa: BLE001 - reading the input failed: the reader raises it
            sent.put(exc)
            return
        sent.put(None)

    done = False
    try:
        for _ in range(jobs):
            workers.append(_Worker(ctx))
        feeder = threading.Thread(target=feed, name="classify-feeder", daemon=True)
        feeder.start()
        for k in itertools.count():
            item = sent.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            chunk, ok = item
            w = workers[k % jobs]
            answers: list[str] | None = None
            if ok and w.alive:
                try:
                    answers = w.results.recv()
                except (EOFError, OSError):
                    w.alive = False
            if answers is None:
                answers = [_answer(classifier, emit, kept, raw, cut) for raw, cut in chunk]
            room.release()
            yield answers
        done = True
    finally:
        stop.set()
        room.release()
        for w in workers:
            if done:  # idle, waiting for work: told to stop
                with contextlib.suppress(OSError, ValueError):
                    w.tasks.send(None)
            else:  # the reader went away (a closed pipe, an error): their answers are not wanted
                w.process.terminate()
        for w in workers:
            w.process.join(timeout=1)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.tasks.close()
            w.results.close()


def batch_gc() -> None:
    """Garbage-collector settings for a long run of lines: what start-up loaded (rules, inventory,
    compiled tables) is frozen out of every collection, and young collections run less often.
    Classifying allocates many short-lived objects and few cycles; with the defaults the
    collector rescans the classifier's caches over and over (about a third of the CPU time)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def register(main: click.Group) -> None:
    @main.command("classify")
    @click.argument("command", nargs=-1)
    @click.option("--inventory", "inventory", type=click.Path(dir_okay=False), default=None,
                  help="An inventory from `stackpolicy scan` (e.g. output/inventory.yaml): resolve targets to real systems.")
    @click.option("--policy", "policy", type=click.Path(dir_okay=False), default=None,
                  help="A reviewed policy (output/policy.yaml): decide from its decision table. A class's or "
                       "exception's tier raises the model's; only `reviewed: true` may lower it. Targets resolve "
                       "to the estate the policy records.")
    @click.option("--json", "as_json_flag", is_flag=True, help="Print one JSON object (JSON lines with --stdin).")
    @click.option("--stdin", "from_stdin", is_flag=True,
                  help="Classify one command per line from standard input: exactly one answer per input line, "
                       "in order (blank and unreadable lines get a T2 answer saying why).")
    @click.pass_context
    def classify(ctx: click.Context, command: tuple[str, ...], inventory: str | None, policy: str | None,
                 as_json_flag: bool, from_stdin: bool) -> None:
        """Classify COMMAND (a shell line; quote it) into a tier T0..T3 and a decision.

        \b
        T0/T1 -> allow, T2 -> ask, T3 -> deny. The tier of a line is the highest tier of
        anything it runs (pipes, &&, bash -c, sudo, xargs, kubectl exec -- ... included).
        Unknown or unparseable commands are T2 (ask).
        """
        if from_stdin and command:
            raise UsageError("give a COMMAND or --stdin, not both")
        if not from_stdin and not command:
            raise UsageError("nothing to classify: give a COMMAND (quoted) or --stdin")
        # `--stdin` keeps its printed answers by line instead (see answer_lines).
        classifier = make_classifier(ctx, inventory, policy, cache=not from_stdin)
        emit = as_json if as_json_flag else readable
        if from_stdin:
            batch_gc()
            out = sys.stdout
            with line_alarms():
                # A block at a time: a worker's chunk is one write, not one per line.
                for block in answer_blocks(classifier, read_lines(sys.stdin.buffer), emit, jobs_for_stdin()):
                    out.write("\n".join(block) + "\n")
            out.flush()
            return
        click.echo(emit(classify_bytes(classifier, " ".join(command).encode("utf-8", "surrogateescape"))))
