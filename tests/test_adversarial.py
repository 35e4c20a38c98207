"""The hand-written adversarial suite (tests/data/adversarial_lines.yaml) through the classifier.

Each line carries the tiers an SRE would accept. Reported: accuracy (tier accepted), severe
misses (a line below its accepted minimum that the classifier would *allow* — T0/T1) and
over-caution (above the accepted maximum). Severe misses must be zero; accuracy at least 95 %.
Run ``python tests/test_adversarial.py`` to print every line that is not accepted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from generators.classify import Classifier
from generators.risk.model import TIERS, tier_index

DATA = Path(__file__).parent / "data" / "adversarial_lines.yaml"


@dataclass(frozen=True)
class Case:
    category: str
    low: str
    high: str
    line: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    tier: str
    decision: str
    reason: str

    @property
    def accepted(self) -> bool:
        return tier_index(self.case.low) <= tier_index(self.tier) <= tier_index(self.case.high)

    @property
    def severe(self) -> bool:
        return tier_index(self.tier) < tier_index(self.case.low) and self.decision == "allow"

    @property
    def over(self) -> bool:
        return tier_index(self.tier) > tier_index(self.case.high)


def load_cases() -> list[Case]:
    """Every case of the suite; tiers as ``T2`` or a range ``T2-T3``."""
    out = []
    for category, tiers, line in yaml.safe_load(DATA.read_text(encoding="utf-8"))["lines"]:
        low, _, high = str(tiers).partition("-")
        assert low in TIERS and (high or low) in TIERS, tiers
        out.append(Case(category, low, high or low, line))
    return out


def run_suite() -> list[Outcome]:
    """Classify every case with the default rules (no inventory: the environment is unknown)."""
    classifier = Classifier()
    outs = []
    for case in load_cases():
        c = classifier.classify(case.line)
        outs.append(Outcome(case, c.tier, c.decision, " | ".join(c.reasons)))
    return outs


def summary(outs: list[Outcome]) -> str:
    """One line of figures."""
    n = len(outs)
    ok = sum(o.accepted for o in outs)
    return (f"{n} lines: {ok} accepted ({ok / n:.1%}), {sum(o.severe for o in outs)} severe misses, "
            f"{sum(o.over for o in outs)} over-cautious")


def test_suite_is_big_and_labelled() -> None:
    cases = load_cases()
    assert len(cases) >= 300
    assert len({c.line for c in cases}) == len(cases), "duplicate lines"
    assert len(Counter(c.category for c in cases)) >= 10


def test_no_severe_misses_and_95_percent_accepted() -> None:
    outs = run_suite()
    print(summary(outs))
    severe = [f"{o.case.line!r}: {o.tier} (accepts {o.case.low}-{o.case.high})" for o in outs if o.severe]
    assert not severe, "\n".join(severe)
    accepted = sum(o.accepted for o in outs) / len(outs)
    wrong = [f"[{o.case.category}] {o.case.line!r}: {o.tier} (accepts {o.case.low}-{o.case.high})"
             for o in outs if not o.accepted]
    assert accepted >= 0.95, summary(outs) + "\n" + "\n".join(wrong)


if __name__ == "__main__":
    results = run_suite()
    for o in results:
        if not o.accepted:
            flag = "SEVERE" if o.severe else ("OVER" if o.over else "under")
            print(f"{flag:6} [{o.case.category}] {o.tier} want {o.case.low}-{o.case.high}: {o.case.line}\n         {o.reason[:230]}")
    print(summary(results))
