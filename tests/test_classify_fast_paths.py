"""Differential tests for the classifier's fast paths: each gives exactly what the general
(reference) code gives, over the adversarial suite, the export evasions, the bench lines and,
when ``../shared/corpora`` is present, the command lines of real runbooks and scripts.

The reference implementations below are the straightforward versions the fast paths
replaced; they are kept here as the oracle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from generators.classify import Classifier, _subject
from generators.decision.decide import EMPTY, _decide, decide
from generators.decision.facts import facts_of
from generators.risk.assess import (
    _DEFAULT_DETECTOR,
    EnvDetector,
    FlagView,
    Subject,
    _candidate_rows,
    _data_classes,
    _first_match,
    _rest_matches,
    _scope,
    normalise_tool,
)
from generators.risk.model import TIERS, max_tier, tier_index
from generators.risk.rules import Rules, load_rules
from inventory.commands.model import copy_with
from inventory.commands.shell import parse_line
from inventory.environments import tokens

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


# --------------------------------------------------------------------------------------
# The lines


def suite_lines() -> list[str]:
    """The adversarial suite, the export evasions and the bench's line templates."""
    out = [line for _, _, line in yaml.safe_load((DATA / "adversarial_lines.yaml").read_text(encoding="utf-8"))["lines"]]
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import classify_speed
        import enforce_corpus
    finally:
        del sys.path[:2]
    out += list(enforce_corpus.EVASIONS)
    out += classify_speed.lines(len(classify_speed.TEMPLATES) * 3)
    # The same lines dressed up: wrappers, pipes, redirections and flags move every path.
    out += [f"sudo {line} | tee -a /etc/hosts > /tmp/out -R" for line in out[:300]]
    return out


def corpus_lines(limit: int = 20_000) -> list[str]:
    """Lines from the code blocks of the corpora's markdown and from their shell scripts."""
    out: list[str] = []
    for path in sorted(CORPORA.rglob("*")):
        if path.suffix not in (".md", ".sh", ".bash") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        fenced = path.suffix != ".md"
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("```"):
                fenced = not fenced if path.suffix == ".md" else fenced
                continue
            if fenced and line and not line.startswith("#"):
                out.append(line.removeprefix("$ "))
    return list(dict.fromkeys(out))[:limit]


def subjects(lines: Iterable[str]) -> list[Subject]:
    """Every simple command of ``lines``, as the classifier sees it."""
    return [_subject(pc, None) for line in lines for pc in parse_line(line).commands]


# --------------------------------------------------------------------------------------
# Reference implementations (the general code the fast paths replaced)


class RefFlagView:
    def __init__(self, flags, argv) -> None:
        present: set[str] = set()
        values: dict[str, str] = {}

        def key(name: str) -> str:
            name = name.lstrip("-")
            return name if len(name) == 1 else name.lower()

        for name, value in flags.items():
            if value is False:
                continue
            k = key(name)
            present.add(k)
            if isinstance(value, str):
                values.setdefault(k, value)
        toks = list(argv)[1:]
        for i, tok in enumerate(toks):
            if tok == "--":
                break
            nxt = toks[i + 1] if i + 1 < len(toks) and not toks[i + 1].startswith("-") else None
            if tok.startswith("--") and len(tok) > 2:
                name, eq, val = tok[2:].partition("=")
                k = key(name)
                present.add(k)
                if eq:
                    values.setdefault(k, val)
                elif nxt is not None:
                    values.setdefault(k, nxt)
            elif tok.startswith("-") and len(tok) > 1 and not tok[1].isdigit():
                body = tok[1:]
                if "=" in body:
                    name, _, val = body.partition("=")
                    present.add(key(name))
                    values.setdefault(key(name), val)
                    continue
                present.add(key(body))
                if len(body) <= 3 and body.isalpha():
                    present.update(body)
                first = body[0]
                if len(body) > 1:
                    values.setdefault(first, body[1:])
                elif nxt is not None:
                    values.setdefault(first, nxt)
        self.present = present
        self.values = values


def ref_scope(s: Subject, fv: FlagView, rules: Rules) -> tuple[str, str]:
    if "xargs" in s.wrappers:
        return "many", "targets come from xargs"
    for scope, names in rules.scope.flags.items():
        for name in names:
            if fv.has(name):
                return scope, f"{'-' if len(name) == 1 else '--'}{name}"
    return "one", "one named object"


def ref_data_classes(s: Subject, rules: Rules) -> list[str]:
    found: set[str] = set()
    toks: set[str] = set()
    for text in (s.target, s.namespace):
        if text:
            toks.update(tokens(text))
    for cls, hints in rules.hint_tokens().items():
        if toks & hints:
            found.add(cls)
    return sorted(c for c in found if c in rules.data_classes.sensitive)


def ref_detect(detector: EnvDetector, text: str | None) -> str | None:
    if not text:
        return None
    low = text.lower()
    return next((env for env, rx in detector._compiled if rx.search(low)), None)


def ref_first_match(rows, s, fv, kind, args):
    return next((row for row in rows if _rest_matches(row, s, fv, args)), None)


# --------------------------------------------------------------------------------------
# The checks


def check_all(lines: list[str]) -> int:
    """Compare every fast path with its reference over ``lines``; the number of commands checked."""
    rules = load_rules()
    all_rows = [row for tool in sorted(rules.tools) for row in rules.rows(tool)] + rules.rows("global")
    subs = subjects(lines)
    for s in subs:
        fv = FlagView(s.flags, s.argv)
        ref = RefFlagView(s.flags, s.argv)
        assert (fv._present, fv._values) == (ref.present, ref.values), s.argv
        assert _scope(s, fv, rules) == ref_scope(s, fv, rules), s.argv
        assert _data_classes(s, None, rules) == ref_data_classes(s, rules), s.argv
        for text in (s.target, s.namespace, *(v for v in s.flags.values() if isinstance(v, str)), *s.argv):
            assert _DEFAULT_DETECTOR(text) == ref_detect(_DEFAULT_DETECTOR, text), text
        tool = normalise_tool(s.tool)
        tool = rules.tool_aliases.get(tool, tool)
        kind = rules.kind(s.object_kind)
        args = tuple(map(str.lower, s.argv[1:]))
        for rows in (_candidate_rows(rules, tool, s.verb.lower(), kind), _candidate_rows(rules, "global", s.verb.lower(), kind),
                     rules.rows(tool), all_rows):
            assert _first_match(rows, s, fv, kind, args) is ref_first_match(rows, s, fv, kind, args), s.argv
        facts = facts_of(s, rules)
        ruling = decide(facts, rules, EMPTY)
        fresh = _decide(facts, rules, EMPTY)
        assert (ruling.tier, ruling.class_id, ruling.rationale, ruling.factors, ruling.deciding) == (
            fresh.tier, fresh.class_id, fresh.rationale, fresh.factors, fresh.deciding)
        for f in ruling.factors:
            a, b = copy_with(f, reason="x"), f.model_copy(update={"reason": "x"})
            assert a == b and a.__pydantic_fields_set__ == b.__pydantic_fields_set__
            assert a.model_dump_json() == b.model_dump_json()
    return len(subs)


def test_fast_paths_match_the_reference_on_the_suites() -> None:
    lines = suite_lines()
    assert len(lines) > 800
    assert check_all(lines) > 1000


@pytest.mark.corpora
def test_fast_paths_match_the_reference_on_the_corpora() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    lines = corpus_lines()
    assert len(lines) > 1000
    assert check_all(lines) > 1000


def test_env_detector_prefilter_with_custom_patterns() -> None:
    """The one-regex prefilter answers as the per-environment regexes for any pattern set."""
    det = EnvDetector({"prod": ["prod", "prd-eu", "live"], "staging": ["stage", "prod-copy"], "empty": []})
    for text in ("orders-prod", "prod-copy", "x-prd-eu-1", "prdeu", "liver", "stage", "STAGE.db", "nothing", "",
                 "prod1", "a prd  eu b", "qa-prod-copy"):
        assert det(text) == ref_detect(det, text), text


def test_tier_helpers() -> None:
    for a in TIERS:
        assert tier_index(a) == TIERS.index(a)
        for b in TIERS:
            assert max_tier(a, b) == TIERS[max(TIERS.index(a), TIERS.index(b))]
    assert max_tier() == "T0"
    with pytest.raises(ValueError):
        tier_index("T9")


def test_classifier_answers_equal_a_fresh_classifier() -> None:
    """Memoised rulings and kept parses never leak between lines: classifying the lines in one
    classifier gives what a fresh classifier gives for each line alone."""
    lines = suite_lines()[:400]
    shared = Classifier()
    together = [shared.classify(line).model_dump_json() for line in lines]
    for line, got in zip(lines[::7], together[::7]):
        assert Classifier().classify(line).model_dump_json() == got
