"""Work a run hands to forked children gives exactly what it gives inline: prompts rendered in a
child (sent one by one while the calls run) make the same requests and the same documents, a
child that fails half-way leaves the rest to the parent, and the finished-documents cache
written in the background is there when it is next read. No thread runs here (a fork needs a
single-threaded process), so the provider answers in-process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from generators.llm import run as llm_run
from generators.llm.prompts import PromptRenderer
from generators.llm.run import LLMRefiner, RunOptions
from generators.pipeline import assess, draft_documents, load_tiers
from generators.providers.base import LLMRequest, LLMResponse, Provider, RetryPolicy
from generators.providers.cache import ResponseCache
from generators.providers.calllog import CallLog
from inventory import forked
from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths
from tests.llm_answers import answer_for

ACME = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
linux_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked work is Linux only")


class InProcess(Provider):
    """Answers every prompt validly (every action at its floor) without a server or a thread;
    records the requests it saw."""

    name = "inproc"

    def __init__(self) -> None:
        super().__init__("m1", RetryPolicy(max_retries=0, base_delay=0.01), timeout=5)
        self.requests: list[LLMRequest] = []

    async def _complete(self, req: LLMRequest) -> LLMResponse:
        self.requests.append(req)
        await asyncio.sleep(0)
        return LLMResponse(text=json.dumps(answer_for(req.prompt)), input_tokens=10, output_tokens=5)


@pytest.fixture(scope="module")
def acme() -> tuple[Inventory, Config]:
    cfg = Config()
    inv, _ = scan_paths([str(ACME)], cfg, use_cache=False)
    return inv, cfg


def _run(acme: tuple[Inventory, Config], cache: ResponseCache | None = None) -> tuple[Any, InProcess, LLMRefiner]:
    inv, cfg = acme
    provider = InProcess()
    ref = LLMRefiner(provider, PromptRenderer(load_tiers(cfg)), cache=cache or ResponseCache(enabled=False),
                     log=CallLog(), options=RunOptions(concurrency=4))
    docs = draft_documents(inv, assess(inv, cfg), cfg, provider=ref)  # fresh assessments: a run clears them
    return docs, provider, ref


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[object]:
    """The jobs ``forked.<name>`` (``start`` or ``stream``) hands out during the test."""
    started: list[object] = []
    real = getattr(forked, name)

    def spy(fn: Any, **kw: Any) -> object:
        job = real(fn, **kw)
        started.append(job)
        return job

    monkeypatch.setattr(forked, name, spy)
    return started


def _streams(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return _spy(monkeypatch, "stream")


@linux_fork
def test_prompts_rendered_in_a_child_make_the_same_requests_and_documents(acme, monkeypatch) -> None:
    monkeypatch.setattr(llm_run, "RENDER_AHEAD_MIN_PROMPTS", 1)
    started = _streams(monkeypatch)
    docs, provider, _ = _run(acme)
    assert len(started) == 2 and all(job is not None for job in started)  # both stages rendered in a child
    assert "LLM rationale" in docs[0].model_dump_json()  # the answers were used
    monkeypatch.setenv(forked.ENV_OFF, "1")
    inline_docs, inline_provider, _ = _run(acme)
    assert docs == inline_docs
    assert provider.requests == inline_provider.requests  # same prompts, same schema, same order


@linux_fork
def test_a_renderer_child_that_fails_half_way_leaves_the_rest_to_the_parent(acme, monkeypatch) -> None:
    monkeypatch.setattr(llm_run, "RENDER_AHEAD_MIN_PROMPTS", 1)
    rendered = llm_run._rendered

    def dies_after_two(*args: Any) -> Any:
        for n, item in enumerate(rendered(*args)):
            if n == 2:
                os._exit(3)  # the child is killed mid-stream
            yield item

    monkeypatch.setattr(llm_run, "_rendered", dies_after_two)
    started = _streams(monkeypatch)
    docs, provider, _ = _run(acme)
    assert started and all(job is not None for job in started)
    monkeypatch.setenv(forked.ENV_OFF, "1")
    inline_docs, inline_provider, _ = _run(acme)
    assert docs == inline_docs and provider.requests == inline_provider.requests


@linux_fork
def test_stream_sends_values_in_order_and_ends_at_a_failure() -> None:
    async def read(job: forked.Stream[Any]) -> list[Any]:
        try:
            return [v async for v in job.items()]
        finally:
            job.close()

    def values() -> Any:
        yield from ({"n": n, "text": "x" * 100_000} for n in range(20))  # more than a pipe holds

    job = forked.stream(values)
    assert job is not None
    got = asyncio.run(read(job))
    assert [v["n"] for v in got] == list(range(20)) and all(len(v["text"]) == 100_000 for v in got)

    def fails() -> Any:
        yield 1
        yield 2
        raise RuntimeError("renderer failed")

    job = forked.stream(fails)
    assert job is not None and asyncio.run(read(job)) == [1, 2]


@linux_fork
def test_documents_cached_in_the_background_are_read_by_the_next_run(acme, tmp_path: Path, monkeypatch) -> None:
    jobs = _spy(monkeypatch, "start")
    cache = ResponseCache(tmp_path / "c")
    cold, provider, _ = _run(acme, cache)
    assert jobs and jobs[-1] is not None  # the documents entry went to a child
    calls = len(provider.requests)
    warm, provider, ref = _run(acme, ResponseCache(tmp_path / "c"))  # reading it waits for the child
    assert warm == cold and provider.requests == []
    assert len(ref.log.records) == calls and all(r.cache_hit for r in ref.log.records)


@linux_fork
def test_a_failed_background_write_is_written_by_the_parent(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    in_child = {"pid": os.getpid()}

    def text() -> str:
        if os.getpid() != in_child["pid"]:
            os._exit(1)  # the child dies before writing
        return "written by the parent"

    cache.put_text_later("documents-x", text)
    assert ResponseCache(tmp_path / "c").get_text("documents-x") == "written by the parent"
    cache.put_text_later("documents-y", lambda: "from the child")
    assert cache.get_text("documents-y") == "from the child"
    assert ResponseCache(tmp_path / "off", enabled=False).get_text("documents-y") is None


@linux_fork
def test_the_documents_key_is_the_same_with_its_halves_computed_side_by_side(acme, tmp_path: Path, monkeypatch) -> None:
    inv, cfg = acme
    results: list[object] = []
    start = forked.start

    def spy(fn: Any, **kw: Any) -> object:
        job = start(fn, **kw)
        if job is not None and getattr(fn, "__name__", "") == "digest":
            value = job.take()
            results.append(value)
            return start(lambda: value)  # hand the pipeline the same value
        return job

    monkeypatch.setattr(forked, "start", spy)
    _run(acme, ResponseCache(tmp_path / "c"))
    assert results == [inv.digest()]  # the inventory digest came from a child, unchanged

    assessments, tiers = assess(inv, cfg), load_tiers(cfg)
    from generators.pipeline import document_meta

    def key(prepare: bool, change: bool = False) -> str:
        ref = LLMRefiner(InProcess(), PromptRenderer(tiers), cache=ResponseCache(tmp_path / "k"))
        judged = dict(assessments)
        if change:
            aid = next(iter(judged))
            judged[aid] = judged[aid].model_copy(update={"rationale": "changed"})
        if prepare:
            ref.prepare_recall(judged, tiers)
        return llm_run._documents_key(ref, inv, judged, tiers, document_meta(inv, ref))

    assert key(prepare=True) == key(prepare=False)
    assert key(prepare=True, change=True) == key(prepare=False, change=True) != key(prepare=False)


@linux_fork
def test_a_process_forked_after_a_background_write_leaves_it_to_its_parent(tmp_path: Path) -> None:
    import time

    cache = ResponseCache(tmp_path / "c")
    cache.put_text_later("documents-z", lambda: (time.sleep(0.2), f"by {os.getpid()}")[1])
    pid = os.fork()
    if pid == 0:  # a later fork (a worker) that exits normally: it must not wait for, or redo, the write
        code = 0 if ResponseCache(tmp_path / "c").get_text("documents-q") is None else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    # Written by the background child: neither taken over by the worker nor redone by the parent.
    assert cache.get_text("documents-z") not in (None, f"by {os.getpid()}", f"by {pid}")
