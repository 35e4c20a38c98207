"""The actions step reads the pool's parsed lines as they arrive (``scan._Awaited``): a text is
waited for only when it is asked for, one task at a time in the order the tasks were handed
out, so the first lines are read while the pool still parses the last ones."""

from __future__ import annotations

from concurrent.futures import BrokenExecutor, Future

from inventory.scan import _Awaited


def _done(lines: dict[str, str]) -> Future:
    future: Future = Future()
    future.set_result(lines)
    return future


class _Running(Future):
    """A task still running: waiting for it is the mistake under test (it would hang)."""

    def result(self, timeout=None):  # type: ignore[no-untyped-def]
        raise AssertionError("waited for a task whose lines were not asked for")


def test_a_text_asked_for_waits_only_for_the_tasks_up_to_its_own() -> None:
    never = _Running()  # asking for an earlier text must not wait for it
    awaited = _Awaited({"known": "k"}, [_done({"a": "1"}), _done({"b": "2", "known": "other"}), never])
    assert awaited.get("known") == "k"  # already there: no task waited for
    assert awaited.get("a") == "1"
    assert awaited.get("b") == "2"
    assert awaited["known"] == "k"  # a task's answer never replaces what was there
    assert not never.done() and awaited  # tasks left: still true, though nothing more is here


def test_a_text_no_task_answers_is_missing_once_every_task_is_taken() -> None:
    awaited = _Awaited({}, [_done({"a": "1"}), _done({"b": "2"})])
    assert awaited  # empty, but answers are coming: the actions step must ask
    assert awaited.get("zzz") is None and awaited.get("zzz", "d") == "d"
    assert dict(awaited) == {"a": "1", "b": "2"}


def test_a_dead_pool_leaves_the_rest_to_the_builder() -> None:
    dead: Future = Future()
    dead.set_exception(BrokenExecutor("a worker died"))
    late = _done({"c": "3"})
    awaited = _Awaited({}, [_done({"a": "1"}), dead, late])
    assert awaited.get("c") is None  # parsed by the builder instead
    assert awaited.get("a") == "1"
    assert dict(awaited) == {"a": "1"}  # nothing more is waited for


def test_the_pool_is_let_go_once_every_task_is_in() -> None:
    stopped: list[bool] = []
    awaited = _Awaited({}, [_done({"a": "1"}), _done({"b": "2"})], lambda: stopped.append(True))
    assert awaited.get("a") == "1" and not stopped  # a task is left
    assert awaited.get("b") == "2" and stopped == [True]
    assert awaited.get("zzz") is None and stopped == [True]  # once


def test_finished_tasks_are_taken_before_they_are_asked_for(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_Awaited, "CHECK_EVERY", 4)
    stopped: list[bool] = []
    awaited = _Awaited({"k": "v"}, [_done({"a": "1"}), _done({"b": "2"})], lambda: stopped.append(True))
    for _ in range(3):
        assert awaited.get("k") == "v"
    assert not stopped
    awaited.get("k")  # the fourth read: every task is done, so all are taken and the pool let go
    assert stopped == [True] and dict(awaited) == {"k": "v", "a": "1", "b": "2"}
