"""Persisted batch jobs (``.stackpolicy/batches.json``), so a ``--batch`` run resumes on the next run.

One entry per document (policy / evals): the batch id, who runs it, and the request keys it
answers. ``stackpolicy batch status`` reads the same file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_STATE = Path(".stackpolicy") / "batches.json"


class BatchJob(BaseModel):
    """One submitted batch."""

    model_config = ConfigDict(extra="forbid")

    document: str  # policy | evals
    batch_id: str
    provider: str
    model: str
    keys: list[str] = Field(default_factory=list)  # request keys in the batch
    cache_keys: dict[str, str] = Field(default_factory=dict)  # request key -> response cache key
    submitted_at: str = ""


class BatchPending(Exception):
    """A batch is still running: nothing is written this run; rerun (or `stackpolicy batch status`)."""

    def __init__(self, job: BatchJob, status: str) -> None:
        super().__init__(f"{job.provider} batch {job.batch_id} for the {job.document} is {status}; "
                         f"{len(job.keys)} requests. Rerun the same command to resume "
                         "(or check with `stackpolicy batch status`).")
        self.job = job
        self.status = status


class BatchState:
    """The jobs file. Reads tolerate a missing or corrupt file (treated as no jobs)."""

    def __init__(self, path: str | Path = DEFAULT_STATE) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, BatchJob]:
        """Jobs by document."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {k: BatchJob.model_validate(v) for k, v in raw.items()}
        except (OSError, ValueError):
            return {}

    def _save(self, jobs: dict[str, BatchJob]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({k: v.model_dump() for k, v in sorted(jobs.items())}, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def put(self, job: BatchJob) -> None:
        jobs = self.load()
        jobs[job.document] = job
        self._save(jobs)

    def remove(self, document: str) -> None:
        jobs = self.load()
        if jobs.pop(document, None) is not None:
            self._save(jobs)
