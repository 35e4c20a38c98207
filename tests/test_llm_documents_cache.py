"""The LLM refiner's finished-documents cache: a warm run skips drafting and validation and
makes zero calls; runs with a fallback are not remembered; a disabled cache (``--no-cache``)
neither reads nor writes; any change to the inputs is a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.llm.prompts import PromptRenderer
from generators.llm.run import LLMRefiner, RunOptions
from generators.pipeline import assess, draft_documents, load_tiers
from generators.providers.base import RetryPolicy
from generators.providers.cache import ResponseCache
from generators.providers.calllog import CallLog
from generators.providers.openai_compatible import OpenAICompatibleProvider
from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths
from tests.llm_answers import openai_responder
from tests.llm_server import LLMServer, Recorded, Reply, llm_server  # noqa: F401 - fixture

ACME = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inventory, dict, Config]:
    cfg = Config()
    inv, _ = scan_paths([str(ACME)], cfg, use_cache=False)
    return inv, assess(inv, cfg), cfg


def _refiner(server: LLMServer, cache: ResponseCache, **opts: object) -> LLMRefiner:
    provider = OpenAICompatibleProvider("m", api_key="k", base_url=server.openai_base_url,
                                        retry=RetryPolicy(max_retries=0, base_delay=0.01), timeout=5)
    return LLMRefiner(provider, PromptRenderer(load_tiers(Config())), cache=cache, log=CallLog(),
                      options=RunOptions(concurrency=8, **opts))  # type: ignore[arg-type]


def _calls(server: LLMServer) -> int:
    return len(server.requests_for("chat"))


def test_warm_run_returns_the_same_documents_with_zero_calls(llm_server: LLMServer, tmp_path: Path, scanned) -> None:
    inv, assessments, cfg = scanned
    llm_server.respond("chat", openai_responder(llm_server))
    cache = ResponseCache(tmp_path / "c")
    cold = _refiner(llm_server, cache)
    docs = draft_documents(inv, assessments, cfg, provider=cold)
    calls = _calls(llm_server)
    assert calls > 0 and list((tmp_path / "c").rglob("documents-*.txt"))

    warm = _refiner(llm_server, cache)
    assert draft_documents(inv, assessments, cfg, provider=warm) == docs
    assert _calls(llm_server) == calls
    # Logged as cache hits, one per prompt, with the tokens the answers cost.
    assert len(warm.log.records) == calls and all(r.cache_hit and r.outcome == "valid" for r in warm.log.records)
    assert {r.key for r in warm.log.records} == {r.key for r in cold.log.records}

    # A different option is a different key: recomputed (from the per-answer cache: no calls).
    other = _refiner(llm_server, cache, max_tokens=1234)
    assert other.recall_documents(inv, assessments, load_tiers(cfg), docs[0].meta) is None


def test_a_run_with_a_fallback_is_not_remembered(llm_server: LLMServer, tmp_path: Path, scanned) -> None:
    inv, assessments, cfg = scanned
    valid = openai_responder(llm_server)
    failing = {"on": True, "seen": 0}

    def fn(rec: Recorded) -> Reply:
        failing["seen"] += 1
        if failing["on"] and failing["seen"] == 1:  # one prompt fails for good (400 is not retried)
            return Reply.error(400, "bad request")
        return valid(rec)

    llm_server.respond("chat", fn)
    cache = ResponseCache(tmp_path / "c")
    draft_documents(inv, assessments, cfg, provider=_refiner(llm_server, cache))
    assert not list((tmp_path / "c").rglob("documents-*.txt"))
    failing["on"] = False
    before = _calls(llm_server)
    draft_documents(inv, assessments, cfg, provider=_refiner(llm_server, cache))
    assert _calls(llm_server) > before  # the failed prompts are asked again
    assert list((tmp_path / "c").rglob("documents-*.txt"))


def test_disabled_cache_reads_and_writes_nothing(llm_server: LLMServer, tmp_path: Path, scanned) -> None:
    inv, assessments, cfg = scanned
    llm_server.respond("chat", openai_responder(llm_server))
    cache = ResponseCache(tmp_path / "c", enabled=False)
    draft_documents(inv, assessments, cfg, provider=_refiner(llm_server, cache))
    first = _calls(llm_server)
    draft_documents(inv, assessments, cfg, provider=_refiner(llm_server, cache))
    assert _calls(llm_server) == 2 * first
    assert not (tmp_path / "c").exists()
