"""Runbook command extraction against hand labels on real runbooks (../shared/corpora).

``tests/data/runbook_command_labels.tsv`` (and a second sample labelled after the extraction
changes, ``..._heldout.tsv``) hold, for every line of the code blocks of a sample
of OpenShift and prometheus-operator runbooks, whether it starts a shell command someone runs
(labelled by reading the files; only path, line number and a short hash are stored). The
scanner's command sightings are compared with the labels: precision and recall of command
lines. A changed corpus line (hash mismatch) fails loudly rather than silently mis-scoring.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import pytest

from inventory.config import Config
from inventory.scanners.base import ScanContext, SourceFile
from inventory.scanners.runbooks import RunbookScanner

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
LABELS = Path(__file__).parent / "data" / "runbook_command_labels.tsv"
HELDOUT = Path(__file__).parent / "data" / "runbook_command_labels_heldout.tsv"

pytestmark = pytest.mark.corpora


def _labels(*files: Path) -> dict[str, dict[int, tuple[bool, str]]]:
    out: dict[str, dict[int, tuple[bool, str]]] = defaultdict(dict)
    for raw in (line for f in (files or (LABELS, HELDOUT)) for line in f.read_text(encoding="utf-8").splitlines()):
        if not raw or raw.startswith("#"):
            continue
        path, line, label, digest = raw.split("\t")
        out[path][int(line)] = (label == "1", digest)
    return out


def extraction_scores(*files: Path) -> tuple[float, float, list[str]]:
    """(precision, recall, disagreements) of the scanner against the labels (default: all of them)."""
    tp = fp = fn = 0
    wrong: list[str] = []
    scanner = RunbookScanner()
    for path, labelled in sorted(_labels(*files).items()):
        file = CORPORA / path
        text = file.read_text(encoding="utf-8")
        lines = text.splitlines()
        for n, (_, digest) in labelled.items():
            got = hashlib.sha1(lines[n - 1].strip().encode()).hexdigest()[:10]
            assert got == digest, f"{path}:{n} changed since it was labelled"
        frag = scanner.scan(SourceFile(path=path, text=text), ScanContext(config=Config()))
        found = {c.evidence.line for c in frag.commands}
        for n, (is_command, _) in sorted(labelled.items()):
            hit = n in found
            tp += hit and is_command
            fp += hit and not is_command
            fn += is_command and not hit
            if hit != is_command:
                wrong.append(f"{'extra' if hit else 'missed'} {path}:{n}: {lines[n - 1].strip()[:100]}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, wrong


def test_labels_cover_enough_lines() -> None:
    labels = _labels()
    total = sum(len(v) for v in labels.values())
    positives = sum(is_cmd for v in labels.values() for is_cmd, _ in v.values())
    assert total >= 200 and positives >= 60
    assert any(p.startswith("openshift__runbooks/") for p in labels)
    assert any(p.startswith("prometheus-operator__runbooks/") for p in labels)


def test_precision_and_recall_of_command_lines() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    precision, recall, wrong = extraction_scores()
    print(f"precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98 and recall >= 0.95, "\n".join(wrong)


if __name__ == "__main__":
    for name, files in (("first sample", (LABELS,)), ("held-out sample", (HELDOUT,)), ("all", (LABELS, HELDOUT))):
        p, r, w = extraction_scores(*files)
        print("\n".join(w))
        print(f"{name}: precision {p:.3f}, recall {r:.3f}")
