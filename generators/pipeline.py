"""scan → assess → draft → render → write: the one path both documents take.

The CLI (``stackpolicy policy`` / ``evals``) and the LLM providers share it. The offline
drafter always runs first: its output is the floor a provider may refine (raise tiers,
rewrite prose) but never lower. Writing happens in exactly one place,
:func:`write_documents`: the markdown is rendered and merged with the reviewed files first;
the large YAML files (inventory, policy, eval suite) are streamed into temp files beside their
targets, and no file is replaced until every one is complete. The stages run with the estate
frozen out of garbage collections (:func:`long_lived_gc`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from generators import __version__
from generators.decision.build import Assessments
from generators.documents.evals import draft_evals, eval_basis, same_eval_basis
from generators.documents.model import DocumentMeta, EvalSuite, Policy, TierDefinition
from generators.documents.policy import draft_policy
from generators.documents.render import render_evals_md, render_policy_md, render_yaml, yaml_writer
from generators.documents.tiers import tier_definitions
from generators.risk.rules import Rules, rules_from_config
from generators.risk.model import Assessment
from inventory import forked
from inventory.config import Config
from generators.review.roundtrip import STATE_DIR, ReviewReport, reconcile, write_all
from inventory.io import Text, inventory_to_yaml, inventory_yaml_writer
from inventory.model import Inventory

POLICY_MD, POLICY_YAML = "policy.md", "policy.yaml"
EVALS_MD, EVALS_YAML = "evals.md", "evals.yaml"
INVENTORY_YAML = "inventory.yaml"


_GC_DEPTH = 0  # how many generation stages are running (the outermost one owns the settings)


@contextmanager
def long_lived_gc() -> Iterator[None]:
    """Garbage-collector settings for generating documents over a large estate.

    What exists when a stage starts (the inventory, its index, the decision table) lives until
    the documents are written: it is frozen out of every collection, and young collections run
    less often. The stages allocate millions of short-lived objects and almost no cycles; with
    the defaults the collector walks the whole inventory over and over (about a third of the
    generation time at 2,000 services). Nested stages freeze what the outer ones made; the
    outermost restores the settings and hands the frozen objects back to the collector when
    it ends (also on error), unless they were frozen before it started.
    """
    global _GC_DEPTH
    outer = _GC_DEPTH == 0
    threshold, was_frozen = gc.get_threshold(), gc.get_freeze_count() > 0
    _GC_DEPTH += 1
    gc.freeze()
    if outer:
        gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        _GC_DEPTH -= 1
        if outer:
            gc.set_threshold(*threshold)
            if not was_frozen:
                gc.unfreeze()


def generation_stage_running() -> bool:
    """Whether a :func:`long_lived_gc` stage is running (what existed at its start is frozen)."""
    return _GC_DEPTH > 0


class DocumentProvider(Protocol):
    """What an LLM provider plugs in: it refines the offline drafts (never replaces the floor)."""

    name: str
    model: str | None

    def refine_policy(self, draft: Policy, inv: Inventory, assessments: dict[str, Assessment]) -> Policy:
        """Return an improved policy; tiers may only go up (lowering is a reviewer question)."""
        ...

    def refine_evals(self, draft: EvalSuite, inv: Inventory, policy: Policy) -> EvalSuite:
        """Return an improved eval suite, grounded in ``inv``."""
        ...

    # Optional: ``drafts_ahead = True`` lets the pipeline draft the eval suite in a forked child
    # while refine_policy runs (worth it when refining waits on the network; see draft_documents).


def document_meta(inv: Inventory, provider: DocumentProvider | None = None, *,
                  digest: str | None = None) -> DocumentMeta:
    """Front matter for a fresh draft: always status draft with no reviewers. ``digest``:
    ``inv.digest()`` when the caller has it already."""
    return DocumentMeta(
        generator_version=__version__,
        inventory_digest=digest or inv.digest(),
        provider=provider.name if provider else "offline",
        model=provider.model if provider else None,
        sources=list(inv.sources),
    )


def load_tiers(cfg: Config, rules: Rules | None = None) -> list[TierDefinition]:
    """Tier definitions for the document: the risk rules' tiers (``cfg.tiers`` applied)."""
    return tier_definitions(rules or rules_from_config(cfg))


@long_lived_gc()
def draft_documents(
    inv: Inventory,
    assessments: dict[str, Assessment],
    cfg: Config,
    provider: DocumentProvider | None = None,
) -> tuple[Policy, EvalSuite]:
    """The policy and the eval suite for ``inv``: offline drafts, refined by ``provider`` if given."""
    tiers = load_tiers(cfg)
    # A provider may remember finished documents (the LLM refiner's result cache): an
    # unchanged run then needs no drafting, rendering or validating at all.
    recall = getattr(provider, "recall_documents", None)
    digest: str | None = None
    prepare = getattr(provider, "prepare_recall", None)
    if recall is not None and prepare is not None:
        # Both halves of the key take about half a second on a large estate: the inventory
        # digest in a forked child while the provider hashes the rest of its key here.
        job = forked.start(inv.digest, nice=0)
        prepare(assessments, tiers)
        digest = job.take() if job is not None else None
    meta = document_meta(inv, provider, digest=digest)
    if recall is not None:
        hit = recall(inv, assessments, tiers, meta)
        if hit is not None:
            return hit
    table = getattr(assessments, "table", None)
    if table is None:  # plain assessments (tests, importers): the table is built here
        table = assess(inv, cfg).table
    verdicts, index = getattr(assessments, "verdicts", None), getattr(assessments, "index", None)

    def evals_from(p: Policy) -> EvalSuite:
        return draft_evals(inv, p, meta, budget=cfg.evals.budget, cfg=cfg,
                           classifier=_eval_classifier(inv, p, cfg, verdicts, index))

    # The document is rendered from the table, and a provider refines both (tiers only rise).
    policy = draft_policy(inv, assessments, tiers, meta, table)
    evals: EvalSuite | None = None
    if provider is not None:
        # With a provider the suite is drafted from the refined policy's eval basis. The offline
        # policy's basis is drafted ahead, in a forked child, while the provider's calls run:
        # when the refinement changed only prose (the bases are equal) that suite is the one
        # the refined policy would draft, and the run does not wait for the drafter.
        draft = policy
        ahead = forked.start(lambda: evals_from(eval_basis(draft))) if getattr(provider, "drafts_ahead", False) else None
        try:
            policy = provider.refine_policy(draft, inv, assessments)
            if ahead is not None and same_eval_basis(draft, policy):
                evals = ahead.take()
        finally:
            if ahead is not None:
                ahead.discard()
        draft = None  # the offline rows the refinement replaced
        if evals is None:
            evals = evals_from(eval_basis(policy))
    else:
        evals = evals_from(policy)
    if isinstance(assessments, Assessments):
        # The build's verdicts served the eval drafter; on a large estate they are hundreds of
        # MB that the write (which renders every file in memory) need not carry.
        assessments.verdicts, assessments.index = {}, None
    # Let go of them now rather than at the return: a child forked meanwhile (the provider
    # caching its documents in the background) would turn each page they free into a copy.
    verdicts = index = None
    if provider is not None:
        evals = provider.refine_evals(evals, inv, policy)
        remember = getattr(provider, "remember_documents", None)
        if remember is not None:
            remember(policy, evals)
    return policy, evals


@dataclass
class Written:
    """What :func:`write_documents` wrote (document paths in write order), the review state
    files beside them, and the review merge's report (conflicts make the command fail)."""

    paths: list[Path] = field(default_factory=list)
    state: list[Path] = field(default_factory=list)
    review: ReviewReport | None = None


def render_documents(
    policy: Policy | None,
    evals: EvalSuite | None,
    out_dir: str | Path,
    inv: Inventory | None = None,
    *,
    which: tuple[str, ...] = ("policy", "evals"),
    stream: bool = False,
) -> dict[str, Text]:
    """Every output file's text, by file name. Pure: nothing is written.

    ``which`` picks the documents to render; the policy, when given, still names the
    systems in the eval suite even if only the eval suite is rendered. ``stream``: the YAML
    files (inventory, policy, eval suite) come as writers of the same text, which write it in
    pieces when the file is written (see :func:`inventory.io.write_files_atomically`).
    """
    out: dict[str, Text] = {}
    if inv is not None:
        out[INVENTORY_YAML] = inventory_yaml_writer(inv) if stream else inventory_to_yaml(inv)
    if policy is not None and "policy" in which:
        out[POLICY_MD] = render_policy_md(policy, out_dir)
        out[POLICY_YAML] = yaml_writer(policy) if stream else render_yaml(policy)
    if evals is not None and "evals" in which:
        names = {s.id: s.name for s in policy.systems} if policy is not None else {}
        out[EVALS_MD] = render_evals_md(evals, out_dir, names)
        out[EVALS_YAML] = yaml_writer(evals) if stream else render_yaml(evals)
    return out


@long_lived_gc()
def write_documents(
    policy: Policy | None,
    evals: EvalSuite | None,
    out_dir: str | Path,
    *,
    inv: Inventory | None = None,
    which: tuple[str, ...] = ("policy", "evals"),
    force: bool = False,
    rules: Rules | None = None,
) -> Written:
    """Render everything first, merge with the reviewed files, then write them all at once
    (the YAML files are streamed into their temp files; none is replaced before all are written).

    ``which`` limits the documents written (``stackpolicy evals`` writes only the suite);
    ``inv`` adds ``inventory.yaml``. This is the single place documents reach the disk.
    Reviewer edits in existing documents are kept (see :mod:`generators.review.roundtrip`);
    ``force`` regenerates from scratch, keeping a backup. Raises
    :class:`generators.review.roundtrip.ReviewError` when the reviewed files cannot be merged.
    """
    texts, report = reconcile(
        policy, evals, out_dir,
        lambda p, e: render_documents(p, e, out_dir, inv, which=which, stream=True),
        force=force, rules=rules,
    )
    written = Written(review=report)
    for path in write_all(out_dir, texts):
        (written.state if STATE_DIR in path.relative_to(out_dir).parts else written.paths).append(path)
    return written


def _eval_classifier(inv: Inventory, policy: Policy, cfg: Config, verdicts: dict | None,
                     index: object | None = None) -> object | None:
    """The eval drafter's classifier (the grader's: the policy's table over the inventory),
    seeded with the lines the table's build already classified. Sound only while the table
    is unedited: an unedited table decides exactly as none, which is how the build decided.
    ``index``: the build's index of ``inv``. ``None``: the drafter builds its own."""
    from generators.documents.evals import default_classifier
    from generators.review.tables import is_edited

    if not verdicts or is_edited(policy.table):
        return None
    classifier = default_classifier(inv, policy, cfg, index=index)
    classifier.seed(verdicts)
    return classifier


@long_lived_gc()
def assess(inv: Inventory, cfg: Config) -> dict[str, Assessment]:
    """Build the decision table with the configured rules (``cfg.rules`` / ``cfg.tiers``): every
    action's assessment, carrying the table (``.table``) the documents are rendered from and
    the verdicts of the lines it classified (``.verdicts``)."""
    from generators.classify import Classifier
    from generators.decision.build import Assessments, build_table
    from generators.documents.systems import group_systems
    from generators.risk.assess import build_index

    rules = rules_from_config(cfg)
    index = build_index(inv, cfg.environments)
    classifier = Classifier(rules, index, match_actions=False)
    grouping = group_systems(inv)
    table, assessments = build_table(inv, rules, cfg.environments, grouping.system_of, classifier=classifier)
    return Assessments(table, assessments, classifier.verdicts(), grouping, index)


def run_pipeline(
    sources: Iterable[str],
    cfg: Config,
    out_dir: str | Path,
    *,
    which: tuple[str, ...] = ("policy", "evals"),
    provider: DocumentProvider | None = None,
    use_cache: bool = True,
) -> tuple[Inventory, Policy, EvalSuite, Written]:
    """Scan ``sources``, assess, draft both documents, and write ``which`` of them plus the inventory."""
    from inventory.scan import scan_paths

    inv, _stats = scan_paths(list(sources), cfg, use_cache=use_cache)
    policy, evals = draft_documents(inv, assess(inv, cfg), cfg, provider)
    written = write_documents(policy, evals, out_dir, inv=inv, which=which, rules=rules_from_config(cfg))
    return inv, policy, evals, written
