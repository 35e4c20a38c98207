"""The eval suite drafted ahead (in a forked child, while a provider refines the policy) is used
only when the refinement changed prose alone, and a run's documents are the same with or
without it; the forked-child helper returns a value, fails soft, and can be discarded."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from generators.documents.evals import draft_evals, eval_basis, same_eval_basis
from generators.documents.model import EvalSuite, Policy
from generators.llm.merge import merge_policy
from generators.llm.schema import ActionAnswer, PolicyAnswer
from generators.pipeline import assess, document_meta, draft_documents
from inventory import forked
from inventory.config import Config
from inventory.model import Inventory
from inventory.scan import scan_paths

ACME = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"
linux_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drafting ahead forks (Linux only)")


@pytest.fixture(scope="module")
def acme() -> tuple[Inventory, Config]:
    cfg = Config()
    inv, _ = scan_paths([str(ACME)], cfg, use_cache=False)
    return inv, cfg


class FakeRefiner:
    """A provider that answers every action at its floor with new prose, raising ``raise_id``."""

    name, model, drafts_ahead = "fake", "m1", True

    def __init__(self, raise_id: str | None = None) -> None:
        self.raise_id = raise_id

    def refine_policy(self, draft: Policy, inv: Inventory, assessments: Any) -> Policy:
        answers = {s.id: [PolicyAnswer(system_id=s.id, summary=f"What {s.id} is.", questions=[], actions=[
            ActionAnswer(id=a.id, tier="T3" if a.id == self.raise_id else a.tier, rationale="model prose",
                         agent_may="model says", evidence=[f"{a.evidence[0].path}:{a.evidence[0].line}"],
                         proposed_lower_tier=None, lower_reason=None) for a in s.actions])]
            for s in draft.systems if s.actions}
        return merge_policy(draft, answers, {}, "fake:m1")

    def refine_evals(self, draft: EvalSuite, inv: Inventory, policy: Policy) -> EvalSuite:
        return draft


def _run(acme: tuple[Inventory, Config], provider: FakeRefiner) -> tuple[Policy, EvalSuite]:
    inv, cfg = acme
    return draft_documents(inv, assess(inv, cfg), cfg, provider=provider)  # fresh assessments: a run clears them


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    taken: list[object] = []
    take = forked.Forked.take

    def spy(self: forked.Forked) -> object:
        value = take(self)
        taken.append(value)
        return value

    monkeypatch.setattr(forked.Forked, "take", spy)
    return taken


def _raisable(acme: tuple[Inventory, Config]) -> str:
    inv, cfg = acme
    policy, _ = draft_documents(inv, assess(inv, cfg), cfg)
    return next(a.id for s in policy.systems for a in s.actions if a.tier != "T3" and a.evidence)


@linux_fork
def test_prose_only_refinement_uses_the_suite_drafted_ahead(acme, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _spy(monkeypatch)
    policy, evals = _run(acme, FakeRefiner())
    assert len(taken) == 1 and isinstance(taken[0], EvalSuite)  # the child's suite was used
    assert {s.drafted_by for s in policy.systems if s.actions} == {"fake:m1"}
    monkeypatch.setenv(forked.ENV_OFF, "1")
    inline_policy, inline_evals = _run(acme, FakeRefiner())
    assert len(taken) == 1  # nothing forked this time
    assert (policy, evals) == (inline_policy, inline_evals)


@linux_fork
def test_a_raised_tier_drafts_the_suite_again_from_the_refined_policy(acme, monkeypatch: pytest.MonkeyPatch) -> None:
    raised = _raisable(acme)
    taken = _spy(monkeypatch)
    policy, evals = _run(acme, FakeRefiner(raise_id=raised))
    assert policy.actions()[raised].tier == "T3"
    assert taken == []  # the bases differ: the child's suite was never read
    monkeypatch.setenv(forked.ENV_OFF, "1")
    assert (policy, evals) == _run(acme, FakeRefiner(raise_id=raised))


def test_the_eval_drafter_reads_nothing_the_basis_drops(acme) -> None:
    inv, cfg = acme
    refined = FakeRefiner(raise_id=_raisable(acme)).refine_policy(
        draft_documents(inv, assess(inv, cfg), cfg)[0], inv, {})
    meta = document_meta(inv)
    offline = draft_documents(inv, assess(inv, cfg), cfg)[0]
    prose_only = FakeRefiner().refine_policy(offline, inv, {})
    for policy in (refined, prose_only):
        basis = eval_basis(policy)
        assert all(not a.rationale for s in basis.systems for a in s.actions)
        assert draft_evals(inv, basis, meta, cfg=cfg) == draft_evals(inv, policy, meta, cfg=cfg)
    # The field-by-field comparison says what comparing the bases says.
    assert prose_only != offline and same_eval_basis(prose_only, offline)
    assert eval_basis(prose_only) == eval_basis(offline)
    assert not same_eval_basis(refined, offline) and eval_basis(refined) != eval_basis(offline)
    moved = offline.model_copy(update={"systems": offline.systems[::-1]})
    assert not same_eval_basis(moved, offline)


@linux_fork
def test_forked_value_failure_and_discard() -> None:
    job = forked.start(lambda: {"answer": [1, 2, 3]})
    assert job is not None and job.take() == {"answer": [1, 2, 3]}
    assert job.take() is None  # taken once

    def boom() -> None:
        raise RuntimeError("drafter failed")

    failing = forked.start(boom)
    assert failing is not None and failing.take() is None  # a failed child: compute inline

    slow = forked.start(lambda: time.sleep(30))
    assert slow is not None
    t0 = time.monotonic()
    slow.discard()
    assert time.monotonic() - t0 < 10  # killed, not waited for
    with pytest.raises(ChildProcessError):
        os.waitpid(slow.pid, 0)  # and reaped


@linux_fork
def test_a_taken_childs_exit_is_not_waited_for_but_it_is_reaped() -> None:
    job = forked.start(lambda: list(range(10)))
    assert job is not None and job.take() == list(range(10))  # its result, as soon as it is written
    deadline = time.monotonic() + 10
    while forked._EXITING and time.monotonic() < deadline:  # gone soon after: reaped, no zombie left
        time.sleep(0.01)
        forked._reap()
    assert not forked._EXITING
    with pytest.raises(ChildProcessError):
        os.waitpid(job.pid, 0)


@linux_fork
def test_no_fork_while_other_threads_run_or_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert forked.start(lambda: 1) is None
    finally:
        stop.set()
        t.join()
    monkeypatch.setenv(forked.ENV_OFF, "1")
    assert forked.start(lambda: 1) is None
    monkeypatch.setenv(forked.ENV_OFF, "0")
    job = forked.start(lambda: 1)
    assert job is not None and job.take() == 1


def test_the_cli_provider_lets_the_pipeline_draft_ahead_except_in_batch_mode() -> None:
    from generators.cli.llm_opts import _CliProvider
    from generators.llm.prompts import PromptRenderer
    from generators.llm.run import LLMRefiner, RunOptions
    from generators.pipeline import load_tiers
    from generators.providers.openai_compatible import OpenAICompatibleProvider

    def cli(batch: bool) -> _CliProvider:
        ref = LLMRefiner(OpenAICompatibleProvider("m", api_key="k", base_url="http://127.0.0.1:1/v1"),
                         PromptRenderer(load_tiers(Config())), options=RunOptions(batch=batch))
        return _CliProvider(None, ref, "", Path("."))  # type: ignore[arg-type] - no click context needed

    assert cli(batch=False).drafts_ahead
    assert not cli(batch=True).drafts_ahead


def test_rows_applied_as_answers_arrive_merge_like_rows_applied_at_the_end(acme) -> None:
    from generators.llm.merge import apply_action, merge_policy

    inv, cfg = acme
    draft = draft_documents(inv, assess(inv, cfg), cfg)[0]
    raised = _raisable(acme)
    answers = {s.id: [PolicyAnswer(system_id=s.id, summary="s", questions=[], actions=[
        ActionAnswer(id=a.id, tier="T3" if a.id == raised else a.tier, rationale="r", agent_may="m",
                     evidence=[f"{a.evidence[0].path}:{a.evidence[0].line}"], proposed_lower_tier=None,
                     lower_reason=None) for a in s.actions])] for s in draft.systems if s.actions}
    applied = {a.id: (ans, a, *apply_action(a, ans, s.id, "fake:m1"))
               for s in draft.systems for a in s.actions for ans in answers[s.id][0].actions if ans.id == a.id}
    at_end = merge_policy(draft, answers, {}, "fake:m1")
    assert merge_policy(draft, answers, {}, "fake:m1", applied=applied) == at_end
    # An entry made for another answer (a repair replaced it) is not reused.
    stale = {k: (v[0].model_copy(update={"tier": "T3"}), *v[1:]) for k, v in applied.items()}
    stale = {k: (v[0], v[1], v[2].model_copy(update={"rationale": "stale"}), v[3]) for k, v in stale.items()}
    assert merge_policy(draft, answers, {}, "fake:m1", applied=stale) == at_end
