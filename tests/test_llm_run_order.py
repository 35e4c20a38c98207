"""The LLM run keeps its pipe full without giving up determinism: the same answers give the
same documents whatever order they arrive in, and the largest prompts go out first."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generators.llm.prompts import PromptRenderer
from generators.llm.run import LLMRefiner, RunOptions, schedule
from generators.llm.slices import PlannedSlice, system_slice_plan
from generators.pipeline import assess, draft_documents, draft_policy, document_meta, load_tiers
from generators.providers.base import RetryPolicy
from generators.providers.cache import ResponseCache
from generators.providers.calllog import CallLog
from generators.providers.openai_compatible import OpenAICompatibleProvider
from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths
from tests.llm_answers import answer_for, openai_responder, prompt_of
from tests.llm_server import LLMServer, Recorded, Reply, llm_server  # noqa: F401 - fixture

ACME = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


@pytest.fixture(scope="module")
def scanned() -> tuple[Inventory, dict, Config]:
    cfg = Config()
    inv, _ = scan_paths([str(ACME)], cfg, use_cache=False)
    return inv, assess(inv, cfg), cfg


def _refiner(server: LLMServer, concurrency: int) -> LLMRefiner:
    provider = OpenAICompatibleProvider("m", api_key="k", base_url=server.openai_base_url,
                                        retry=RetryPolicy(max_retries=0, base_delay=0.01), timeout=5)
    return LLMRefiner(provider, PromptRenderer(load_tiers(Config())), cache=ResponseCache(enabled=False),
                      log=CallLog(), options=RunOptions(concurrency=concurrency))


def _delayed(server: LLMServer, salt: str):  # type: ignore[no-untyped-def]
    """Valid answers, each held back 0-40 ms by a hash of its prompt: ``salt`` reshuffles the
    order in which they come back."""
    valid = openai_responder(server)

    def fn(rec: Recorded) -> Reply:
        reply = valid(rec)
        reply.delay = int(hashlib.sha256((salt + prompt_of(rec)).encode()).hexdigest()[:2], 16) / 255 * 0.04
        return reply
    return fn


def test_completion_order_does_not_change_the_documents(llm_server: LLMServer, scanned) -> None:
    inv, assessments, cfg = scanned
    docs = []
    for salt in ("a", "b"):
        llm_server.respond("chat", _delayed(llm_server, salt))
        policy, evals = draft_documents(inv, assessments, cfg, provider=_refiner(llm_server, 8))
        docs.append((policy.model_dump_json(), evals.model_dump_json()))
    assert docs[0] == docs[1]
    assert "LLM rationale" in docs[0][0]  # the answers were used, not the offline draft


def test_the_largest_prompts_go_out_first(llm_server: LLMServer, scanned) -> None:
    inv, assessments, cfg = scanned
    llm_server.respond("chat", openai_responder(llm_server))
    ref = _refiner(llm_server, 1)  # one at a time: the arrival order is the schedule
    draft = draft_policy(inv, assessments, load_tiers(cfg), document_meta(inv, ref), assessments.table)
    plan = system_slice_plan(draft, inv)
    ref.refine_policy(draft, inv, assessments)
    # A policy prompt's size is the actions it lists (what a valid answer covers).
    sizes = [len(answer_for(prompt_of(r))["actions"]) for r in llm_server.requests_for("chat")]
    assert sorted(sizes) == sorted(p.size for p in plan) and len(plan) > 2
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_schedule_is_largest_first_then_plan_order() -> None:
    def planned(key: str, size: int) -> PlannedSlice:
        return PlannedSlice(key, key, size, lambda: None)  # type: ignore[arg-type, return-value]

    plan = [planned("a", 3), planned("b", 40), planned("c", 3), planned("d", 12)]
    assert schedule(plan) == [1, 3, 0, 2]
    assert schedule([]) == []
