"""The LLM refiner: the pipeline's ``DocumentProvider`` for real APIs.

Per document: slice the inventory per system, render one prompt per slice, answer them
concurrently (bounded), validate each answer, give one repair round that quotes the errors,
and fall back to the offline draft for a system that still fails. Answers are cached, every
call is logged, and the merged document is built by :mod:`generators.llm.merge` so it is
rendered by the same templates as the offline path.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from generators import __version__
from generators.documents.model import DocumentMeta, EvalSuite, Policy, TierDefinition
from generators.llm.merge import Applied, Fallback, apply_action, merge_evals, merge_policy
from generators.llm.prompts import PromptRenderer, RenderedPrompt
from generators.llm.slices import PlannedSlice, Slice, eval_slice_plan, system_slice_plan
from generators.llm.validate import repair_prompt, validate_evals, validate_policy
from generators.providers.base import LLMRequest, LLMResponse, Provider, ProviderError, batch_custom_id
from generators.providers.batch import BatchJob, BatchPending, BatchState
from generators.providers.cache import ResponseCache, cache_key
from generators.providers.calllog import CallLog, CallRecord
from generators.providers.pricing import Price, batch_discount, estimate_tokens, load_prices, price_for
from generators.risk.model import Assessment
from inventory import forked
from inventory.model import Inventory

Validator = Callable[[str, Slice], tuple[Any, list[str]]]


@dataclass
class RunOptions:
    """Knobs from stackpolicy.yaml / flags."""

    concurrency: int = 4
    max_tokens: int = 8000
    temperature: float = 0.0
    budget_usd: float | None = None
    batch: bool = False
    progress: bool = False  # rich progress bar (on a TTY)


@dataclass
class Outcome:
    """What happened to one prompt."""

    prompt: RenderedPrompt
    slice: Slice
    answer: Any = None
    error: str | None = None


@dataclass
class _Budget:
    price: Price
    limit: float | None
    spent: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


class LLMRefiner:
    """Refines offline drafts through ``provider`` (see module docstring)."""

    def __init__(self, provider: Provider, renderer: PromptRenderer, *, cache: ResponseCache | None = None,
                 log: CallLog | None = None, options: RunOptions | None = None,
                 batch_state: BatchState | None = None, prices: dict[str, Any] | None = None) -> None:
        self.provider = provider
        self.name = provider.name
        self.model: str | None = provider.model
        self.renderer = renderer
        self.cache = cache or ResponseCache(enabled=False)
        self.log = log or CallLog()
        self.options = options or RunOptions()
        self.batch_state = batch_state or BatchState()
        self.prices = prices if prices is not None else load_prices()
        self.budget = _Budget(price_for(provider.name, provider.model, self.prices), self.options.budget_usd)
        self.unreachable: str | None = None  # set when the API cannot be reached at all
        # The finished-documents cache (see recall_documents): the key of this run, every
        # prompt key answered validly with its token counts, and whether anything fell back.
        self._doc_key: str | None = None
        self._prepared: tuple[object, object, str] | None = None  # (assessments, tiers, their hash)
        self._answered: list[tuple[str, int, int]] = []
        self._fell_back = False

    @property
    def drafts_ahead(self) -> bool:
        """The pipeline may draft the eval suite in a forked child while the policy calls run
        (not in batch mode: there the policy step usually stops the run until the batch ends)."""
        return not self.options.batch

    # ---- finished documents ---------------------------------------------------------
    def recall_documents(self, inv: Inventory, assessments: dict[str, Assessment], tiers: list[TierDefinition],
                         meta: DocumentMeta) -> tuple[Policy, EvalSuite] | None:
        """The policy and eval suite a previous run produced from exactly these inputs, or None.

        An unchanged run then skips the offline drafter, prompt rendering and answer
        validation: the result was validated and merged when it was stored. The key covers the
        inventory (through ``meta``, which must be ``document_meta(inv, ...)``), the assessments, the tiers, the document meta, the provider, model and call
        options, the prompt templates and the drafting/refining code itself. Only runs where
        every prompt got a valid answer are stored (a fallback is retried next time), and
        ``--no-cache`` (a disabled cache) neither reads nor writes. Each remembered prompt is
        logged as a cache hit, as a per-answer cache hit would be.
        """
        self._doc_key, self._answered, self._fell_back = None, [], False
        if not self.cache.enabled:
            return None
        self._doc_key = _documents_key(self, inv, assessments, tiers, meta)
        self._prepared = None
        text = self.cache.get_text(self._doc_key)
        if text is None:
            return None
        try:
            head, policy_json, evals_json = text.split("\n", 2)
            answered = json.loads(head)["answered"]
            policy = Policy.model_validate_json(policy_json)
            evals = EvalSuite.model_validate_json(evals_json)
            hits = [(str(k), int(i), int(o)) for k, i, o in answered]
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable entry is a miss, never an error
        for key, tin, tout in hits:
            self._record(key, 1, "valid", LLMResponse(text="", input_tokens=tin, output_tokens=tout, attempts=0),
                         cache_hit=True, attempts=0)
        self._doc_key = None
        return policy, evals

    def remember_documents(self, policy: Policy, evals: EvalSuite) -> None:
        """Store the documents under the key :meth:`recall_documents` computed (clean runs only)."""
        if self._doc_key is None or self._fell_back:
            return
        head = json.dumps({"answered": sorted(self._answered)})  # completion order varies run to run
        # Serialised and written in the background: the run's result does not wait for it.
        self.cache.put_text_later(self._doc_key,
                                  lambda: f"{head}\n{policy.model_dump_json()}\n{evals.model_dump_json()}")
        self._doc_key = None

    def prepare_recall(self, assessments: dict[str, Assessment], tiers: list[TierDefinition]) -> None:
        """Hash the assessments and tiers for :meth:`recall_documents` now (the pipeline digests
        the inventory meanwhile, in a forked child); used for these same objects only."""
        if self.cache.enabled:
            self._prepared = (assessments, tiers, _judgement_digest(assessments, tiers))

    # ---- DocumentProvider -----------------------------------------------------------
    def refine_policy(self, draft: Policy, inv: Inventory, assessments: dict[str, Assessment]) -> Policy:
        """The policy with each system refined by the model (floors enforced), or its offline draft."""
        with _frozen_heap():
            plan = system_slice_plan(draft, inv)
            label = self.provider.label
            rows = {a.id: (a, s.id) for s in draft.systems for a in s.actions}
            applied: Applied = {}

            def apply(outcome: Outcome) -> None:
                # Each valid answer is applied to its rows as it arrives, while the other calls
                # wait on the API; the merge after the last answer then reuses these rows.
                for ans in outcome.answer.actions:
                    hit = rows.get(ans.id)
                    if hit is not None:
                        applied[ans.id] = (ans, hit[0], *apply_action(hit[0], ans, hit[1], label))

            outcomes = self._run("policy", plan, self.renderer.policy, validate_policy, apply)
            answers, fallbacks = _collect(outcomes)
            return merge_policy(draft, answers, fallbacks, label, applied=applied)

    def refine_evals(self, draft: EvalSuite, inv: Inventory, policy: Policy) -> EvalSuite:
        """The suite with each system's cases rewritten by the model, or its offline draft."""
        with _frozen_heap():
            plan = eval_slice_plan(policy, inv, draft.cases)
            outcomes = self._run("evals", plan, self.renderer.evals, validate_evals)
            answers, fallbacks = _collect(outcomes)
            return merge_evals(draft, answers, fallbacks, self.provider.label)

    # ---- running ------------------------------------------------------------------------
    def _request(self, p: RenderedPrompt) -> LLMRequest:
        return p.request(self.options.max_tokens, self.options.temperature)

    def _run(self, document: str, plan: Sequence[PlannedSlice], render: Callable[[Slice], RenderedPrompt],
             validator: Validator, on_answer: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        return asyncio.run(self._run_async(document, plan, render, validator, on_answer))

    async def _run_async(self, document: str, plan: Sequence[PlannedSlice],
                         render: Callable[[Slice], RenderedPrompt], validator: Validator,
                         on_answer: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Every planned slice answered; outcomes in plan (document) order, whatever the completion order.

        A producer builds and renders prompts just ahead of ``concurrency`` workers, each of
        which takes the next ready prompt as soon as its previous call is done: the first call
        goes out after one prompt is rendered, a slow answer holds up only its own worker,
        and rendering runs while the calls wait on the API. The largest slices go first, so
        the run does not end waiting on a long answer started last. ``on_answer`` sees each
        valid outcome as it arrives.
        """
        self.budget.lock = asyncio.Lock()
        prefetched: dict[str, LLMResponse | ProviderError] = {}
        n = len(plan)
        width = max(1, min(self.options.concurrency, n))
        ready: dict[int, tuple[Slice, RenderedPrompt]] = {}
        if self.options.batch:
            # The batch needs every prompt up front.
            for i, planned in enumerate(plan):
                sl = planned.build()
                ready[i] = (sl, render(sl))
            prefetched = await self._batch(document, [p for _, p in ready.values()])
        order = schedule(plan)
        queue: asyncio.Queue[tuple[int, Slice, RenderedPrompt] | None] = asyncio.Queue(maxsize=width)
        results: list[Outcome | None] = [None] * n
        # Many prompts: a forked child builds and renders them (on the other core) and sends
        # each as it is ready, so the event loop only sends, reads and validates. Forked before
        # anything starts a thread (a progress bar, a resolver); the same prompts either way.
        ahead = forked.stream(lambda: _rendered(plan, order, render)) \
            if not ready and n >= RENDER_AHEAD_MIN_PROMPTS else None
        progress = _Progress(f"{document} ({self.provider.label})", n, self.options.progress)

        async def produce() -> None:
            sent: set[int] = set()
            if ahead is not None:
                unpack = _Unpacker()
                async for item in ahead.items():
                    i, sl, p = unpack(item)
                    sent.add(i)
                    await queue.put((i, sl, p))
            for i in order:  # inline: everything, or what the child did not send (it failed)
                if i in sent:
                    continue
                if i in ready:
                    sl, p = ready.pop(i)
                else:
                    sl = plan[i].build()
                    p = render(sl)
                await queue.put((i, sl, p))
                await asyncio.sleep(0)  # answers that arrived meanwhile are read before the next render
            for _ in range(width):
                await queue.put(None)

        async def work() -> None:
            while (item := await queue.get()) is not None:
                i, sl, p = item
                results[i] = outcome = await self._answer(p, sl, validator, prefetched.get(p.key))
                progress.advance()
                if on_answer is not None and outcome.answer is not None:
                    on_answer(outcome)

        try:
            with self.cache.writing_behind(), progress:  # after the fork: both may start a thread
                await asyncio.gather(produce(), *(work() for _ in range(width)))
        finally:
            if ahead is not None:
                ahead.close()
            await self.provider.aclose()
        return [o for o in results if o is not None]

    async def _call(self, req: LLMRequest) -> tuple[LLMResponse, int]:
        async with self.budget.lock:
            if self.budget.exhausted():
                raise ProviderError(f"budget of ${self.budget.limit:.2f} exhausted")
        if self.unreachable is not None:
            # Circuit breaker: once the server could not be reached after all retries, every
            # other call would wait through the same backoff for nothing.
            raise ProviderError(self.unreachable)
        t0 = time.perf_counter()
        try:
            resp = await self.provider.complete(req)
        except ProviderError as exc:
            if "cannot connect" in str(exc):
                self.unreachable = str(exc)
            raise
        ms = int((time.perf_counter() - t0) * 1000)
        async with self.budget.lock:
            self.budget.spent += self.budget.price.cost(resp.input_tokens, resp.output_tokens)
        return resp, ms

    def _record(self, key: str, rnd: int, outcome: str, resp: LLMResponse | None = None, ms: int = 0,
                cache_hit: bool = False, errors: Sequence[str] = (), attempts: int | None = None,
                batch_id: str | None = None) -> None:
        self.log.add(CallRecord(
            key=key, provider=self.provider.name, model=self.provider.model, round=rnd, cache_hit=cache_hit,
            attempts=attempts if attempts is not None else (resp.attempts if resp else 0),
            input_tokens=resp.input_tokens if resp else 0, output_tokens=resp.output_tokens if resp else 0,
            latency_ms=ms, outcome=outcome, errors=list(errors), batch_id=batch_id))

    async def _answer(self, p: RenderedPrompt, sl: Slice, validator: Validator,
                      prefetched: LLMResponse | ProviderError | None) -> Outcome:
        req = self._request(p)
        ckey = cache_key(self.provider.name, self.provider.model, req)
        cached = self.cache.get(ckey)
        if cached is not None:
            answer, errors = validator(cached.text, sl)
            if answer is not None:
                self._record(p.key, 1, "valid", cached, cache_hit=True, attempts=0)
                self._answered.append((p.key, cached.input_tokens, cached.output_tokens))
                return Outcome(p, sl, answer=answer)
        # Round 1 (or the batch's answer), then at most one repair round.
        resp: LLMResponse | None = None
        ms = 0
        try:
            if isinstance(prefetched, LLMResponse):
                resp = prefetched
            else:
                resp, ms = await self._call(req)
        except ProviderError as exc:
            self._record(p.key, 1, "fallback", errors=[str(exc)], attempts=self.provider.retry.max_retries + 1)
            self._fell_back = True
            return Outcome(p, sl, error=_short(str(exc)))
        answer, errors = validator(resp.text, sl)
        if resp.truncated and answer is None:
            errors = ["the answer was cut off at the output token limit (truncated JSON); be more concise", *errors]
        if answer is not None:
            self._record(p.key, 1, "valid", resp, ms)
            self.cache.put(ckey, resp)
            self._answered.append((p.key, resp.input_tokens, resp.output_tokens))
            return Outcome(p, sl, answer=answer)
        self._record(p.key, 1, "invalid", resp, ms, errors=errors)
        repair = LLMRequest(key=req.key, system=req.system, prompt=repair_prompt(req.prompt, resp.text, errors),
                            schema_name=req.schema_name, schema=req.schema, max_tokens=req.max_tokens,
                            temperature=req.temperature)
        try:
            resp2, ms2 = await self._call(repair)
        except ProviderError as exc:
            self._record(p.key, 2, "fallback", errors=[str(exc)])
            self._fell_back = True
            return Outcome(p, sl, error=f"invalid answer, and the repair call failed: {_short(str(exc))}")
        answer, errors2 = validator(resp2.text, sl)
        if answer is not None:
            self._record(p.key, 2, "repaired", resp2, ms2)
            # Cached under the first request's key: an unchanged inventory needs no call at all next time.
            self.cache.put(ckey, resp2)
            self._answered.append((p.key, resp2.input_tokens, resp2.output_tokens))
            return Outcome(p, sl, answer=answer)
        self._record(p.key, 2, "fallback", resp2, ms2, errors=errors2)
        self._fell_back = True
        return Outcome(p, sl, error=f"answer failed validation twice: {_short(errors2[0])}")

    # ---- batch mode -----------------------------------------------------------------------
    async def _batch(self, document: str, prompts: Sequence[RenderedPrompt]) -> dict[str, LLMResponse | ProviderError]:
        """Submit the uncached prompts as one batch, or collect the batch a previous run submitted.

        Raises :class:`BatchPending` while the batch runs (nothing is written that run).
        """
        submit = getattr(self.provider, "submit_batch", None)
        if submit is None:
            raise ProviderError(f"{self.provider.name} has no batch API; run without --batch")
        reqs = {p.key: self._request(p) for p in prompts}
        ckeys = {k: cache_key(self.provider.name, self.provider.model, r) for k, r in reqs.items()}
        todo = sorted(k for k in reqs if self.cache.get(ckeys[k]) is None)
        job = self.batch_state.load().get(document)
        if job is not None and (job.provider, job.model) == (self.provider.name, self.provider.model) \
                and set(job.keys) == set(todo):
            results = await self.provider.collect_batch(job.batch_id)  # type: ignore[attr-defined]
            if results is None:
                raise BatchPending(job, "still running")
            self.batch_state.remove(document)
            return {k: results.get(batch_custom_id(k), ProviderError("missing from the batch results"))
                    for k in job.keys}
        if not todo:
            return {}
        batch_id = await submit([reqs[k] for k in todo])
        job = BatchJob(document=document, batch_id=batch_id, provider=self.provider.name, model=self.provider.model,
                       keys=todo, cache_keys={k: ckeys[k] for k in todo},
                       submitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.batch_state.put(job)
        results = await self.provider.collect_batch(batch_id)  # type: ignore[attr-defined]
        if results is None:
            raise BatchPending(job, "submitted")
        self.batch_state.remove(document)
        return {k: results.get(batch_custom_id(k), ProviderError("missing from the batch results")) for k in todo}


# What the finished documents depend on besides the inputs: the code that drafts, slices,
# validates and merges them (and the bundled templates, via the renderer's search path).
_CODE_DIRS = ("generators/documents", "generators/llm", "generators/risk")
_CODE_FILES = ("generators/pipeline.py", "generators/providers/base.py")
_CODE_DIGEST: list[str] = []


def _code_digest() -> str:
    """sha256 over the sources the documents are computed by (once per process)."""
    if not _CODE_DIGEST:
        root = Path(__file__).resolve().parents[2]
        h = hashlib.sha256(__version__.encode())
        paths = sorted(p for d in _CODE_DIRS for p in (root / d).glob("*.py")) + [root / f for f in _CODE_FILES]
        for path in paths:
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes() if path.is_file() else b"-")
        _CODE_DIGEST.append(h.hexdigest())
    return _CODE_DIGEST[0]


def _documents_key(ref: LLMRefiner, inv: Inventory, assessments: dict[str, Assessment],
                   tiers: list[TierDefinition], meta: DocumentMeta) -> str:
    """The finished-documents cache key (everything :meth:`LLMRefiner.recall_documents` lists).

    The inventory enters through ``meta.inventory_digest``: ``meta`` is the document meta the
    pipeline made from ``inv`` (:func:`generators.pipeline.document_meta`), and digesting a
    large inventory a second time costs half a second before the first call."""
    h = hashlib.sha256(b"stackpolicy-documents-v3\0")
    pre = ref._prepared
    judged = pre[2] if pre is not None and pre[0] is assessments and pre[1] is tiers \
        else _judgement_digest(assessments, tiers)
    for part in (_code_digest(), ref.renderer.fingerprint(), ref.provider.name, str(ref.provider.model),
                 ref.provider.label, str(ref.options.max_tokens), str(ref.options.temperature),
                 meta.model_dump_json(), judged):
        h.update(part.encode())
        h.update(b"\0")
    return "documents-" + h.hexdigest()


def _judgement_digest(assessments: dict[str, Assessment], tiers: list[TierDefinition]) -> str:
    """sha256 of the tiers and every assessment (the documents key's share of the risk model)."""
    h = hashlib.sha256(json.dumps([t.model_dump(mode="json") for t in tiers], sort_keys=True).encode() + b"\0")
    # The assessments in one serializer call (tens of thousands of model_dump_json calls cost
    # more, before the first prompt could go out).
    ids = sorted(assessments)
    h.update(json.dumps(ids).encode() + b"\0")
    h.update(_ASSESSMENT_LIST.dump_json([assessments[aid] for aid in ids]))
    return h.hexdigest()


_ASSESSMENT_LIST: TypeAdapter[list[Assessment]] = TypeAdapter(list[Assessment])


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive on entry (the inventory and the drafts: millions on a large estate)
    outlive a refine step; frozen, the collector's passes during the calls and the merge do
    not walk them each time. Automatic collections are off for the step: each one stops the
    event loop that must keep reading answers (about a second over 3,600 calls), and a step
    makes almost no reference cycles.

    Inside the pipeline's generation stage (which froze what existed when it began), the
    step's survivors are frozen with it until that stage ends: unfreezing would hand the whole estate back to the collector, and leaving the step's millions of objects
    in the young generation would make the first collection after the step walk them all,
    while the next stage waits for it. Otherwise everything is unfrozen again."""
    from generators import pipeline  # imported late: the pipeline is this module's caller

    # Inside a pipeline stage everything alive at its start is frozen already. (Asking the
    # collector instead, gc.get_freeze_count, walks every frozen object: 0.15 s on a large estate.)
    was_frozen = pipeline.generation_stage_running()
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_frozen:
            gc.freeze()  # the step's survivors too: the next collection would only walk them
        else:
            gc.unfreeze()
        if enabled:
            gc.enable()  # the next automatic collection frees the step's few cycles


# From this many prompts a run renders them in a forked child (fewer render in a fraction of a
# second, less than the fork and the copy-on-write pages cost).
RENDER_AHEAD_MIN_PROMPTS = 128


def _rendered(plan: Sequence[PlannedSlice], order: list[int],
              render: Callable[[Slice], RenderedPrompt]) -> Iterator[tuple[Any, ...]]:
    """The forked renderer: each planned slice built and rendered in ``order``, as the tuple
    :class:`_Unpacker` reads. The slice goes without its view (only rendering reads it); the
    system text and a schema go once, then as None (the same for every prompt of a run)."""
    system: str | None = None
    schemas: set[str] = set()
    for i in order:
        sl = plan[i].build()
        p = render(sl)
        new_system = p.system != system
        system = p.system
        new_schema = p.schema_name not in schemas
        schemas.add(p.schema_name)
        yield (i, Slice(sl.key, sl.system_id, {}, sl.action_ids, sl.floors, sl.evidence, sl.cases),
               p.key, p.document, p.system_id, p.system if new_system else None, p.prompt, p.schema_name,
               p.schema if new_schema else None)


class _Unpacker:
    """Reads :func:`_rendered`'s tuples back into (index, slice, prompt)."""

    def __init__(self) -> None:
        self.system = ""
        self.schemas: dict[str, dict[str, Any]] = {}  # one object per schema: cache_key memoises its digest by object

    def __call__(self, item: tuple[Any, ...]) -> tuple[int, Slice, RenderedPrompt]:
        i, sl, key, document, system_id, system, text, schema_name, schema = item
        if system is not None:
            self.system = system
        if schema is not None:
            self.schemas[schema_name] = schema
        return i, sl, RenderedPrompt(key, document, system_id, self.system, text, schema_name,
                                     self.schemas[schema_name])


def schedule(plan: Sequence[PlannedSlice]) -> list[int]:
    """The order prompts go out in: largest slice first (its answer takes longest), ties in plan order."""
    return sorted(range(len(plan)), key=lambda i: (-plan[i].size, i))


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _collect(outcomes: list[Outcome]) -> tuple[dict[str, list[Any]], dict[str, Fallback]]:
    """Answers per system; a system with any failed part falls back as a whole (never half a system)."""
    answers: dict[str, list[Any]] = {}
    fallbacks: dict[str, Fallback] = {}
    for o in outcomes:
        if o.error is not None:
            fallbacks.setdefault(o.slice.system_id, Fallback(o.slice.system_id, o.error))
        else:
            answers.setdefault(o.slice.system_id, []).append(o.answer)
    for sid in fallbacks:
        answers.pop(sid, None)
    return answers, fallbacks


class _Progress:
    """A rich progress bar on a TTY; silent otherwise."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.enabled = enabled and total > 0
        self.label, self.total = label, total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import Progress

            from generators.cli.common import console

            self._bar = Progress(console=console(), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@dataclass
class Plan:
    """A dry run: every prompt rendered, counted and priced; nothing called."""

    prompts: list[RenderedPrompt]
    cached: int
    input_tokens: list[int]
    output_tokens_est: int
    cost_usd: float

    def describe(self, label: str, batch: bool) -> str:
        """Human summary for the console."""
        toks = sorted(self.input_tokens)
        med = toks[len(toks) // 2] if toks else 0
        return (f"dry run ({label}): {len(self.prompts)} prompts, {self.cached} already cached, "
                f"{len(self.prompts) - self.cached} calls; prompt tokens total {sum(toks)}, max {max(toks, default=0)}, "
                f"median {med}; estimated output tokens {self.output_tokens_est}; "
                f"estimated cost ${self.cost_usd:.4f}{' (batch price)' if batch else ''}. Nothing was called.")


def plan(prompts: list[RenderedPrompt], provider_name: str, model: str, cache: ResponseCache, *,
         max_tokens: int, temperature: float, batch: bool = False, prices: dict[str, Any] | None = None,
         output_ratio: float = 0.5) -> Plan:
    """Count and price ``prompts`` (output estimated at ``output_ratio`` of input, capped at max_tokens)."""
    prices = prices if prices is not None else load_prices()
    price = price_for(provider_name, model, prices)
    tin: list[int] = []
    tout = 0
    cached = 0
    cost = 0.0
    for p in prompts:
        req = p.request(max_tokens, temperature)
        if cache.get(cache_key(provider_name, model, req)) is not None:
            cached += 1
        n = estimate_tokens(req.system) + estimate_tokens(req.prompt)
        tin.append(n)
        out = min(max_tokens, int(n * output_ratio))
        tout += out
        cost += price.cost(n, out)
    if batch:
        cost *= batch_discount(prices)
    return Plan(prompts, cached, tin, tout, cost)
