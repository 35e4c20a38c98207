"""A record of every LLM call: ``output/generation-log.jsonl`` plus an end-of-run summary."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict

LOG_NAME = "generation-log.jsonl"


class CallRecord(BaseModel):
    """One call (or cache hit). ``outcome``: valid | repaired | fallback | error | dry-run."""

    model_config = ConfigDict(extra="forbid")

    key: str  # "policy:<system id>" / "evals:<system id>"
    provider: str
    model: str
    round: int = 1  # 1 = first answer, 2 = repair round
    cache_hit: bool = False
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0
    outcome: str
    errors: list[str] = []
    batch_id: str | None = None


class CallLog:
    """Collects records in memory (thread-safe) and writes them once at the end of a run."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()

    def add(self, rec: CallRecord) -> None:
        with self._lock:
            self.records.append(rec)

    def api_calls(self) -> int:
        """Calls that reached the API (cache hits excluded)."""
        return sum(1 for r in self.records if not r.cache_hit and r.outcome != "dry-run")

    def write(self, out_dir: str | Path) -> Path:
        """Write this run's records to ``<out_dir>/generation-log.jsonl`` (sorted by key, round).

        The file describes the run that produced the documents next to it, so it is replaced,
        not appended to (latency varies run to run; everything else is deterministic).
        """
        from inventory.io import atomic_write

        path = Path(out_dir) / LOG_NAME
        atomic_write(path, "".join(json.dumps(r.model_dump(), sort_keys=True) + "\n"
                                   for r in sorted(self.records, key=lambda r: (r.key, r.round))))
        return path

    def summary(self) -> str:
        """One line: calls, cache hits, tokens, outcomes."""
        hits = sum(1 for r in self.records if r.cache_hit)
        tin = sum(r.input_tokens for r in self.records if not r.cache_hit)
        tout = sum(r.output_tokens for r in self.records if not r.cache_hit)
        finals = Counter(_final_outcomes(self.records).values())
        parts = [f"{self.api_calls()} API calls", f"{hits} cache hits", f"{tin} input + {tout} output tokens"]
        if finals:
            parts.append(", ".join(f"{n} {k}" for k, n in sorted(finals.items())))
        return "; ".join(parts)


def _final_outcomes(records: list[CallRecord]) -> dict[str, str]:
    """The last outcome per key (a repaired key counts once, as repaired)."""
    out: dict[str, str] = {}
    for r in sorted(records, key=lambda r: (r.key, r.round)):
        out[r.key] = r.outcome
    return out
