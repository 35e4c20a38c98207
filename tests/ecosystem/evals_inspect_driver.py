"""Run the exported Inspect task with Inspect's own runner and a canned model (no network).

    python evals_inspect_driver.py TASK_FILE LOG_DIR OUT_JSON BEHAVIOUR...

Writes ``{behaviour: {sample id: {"value": "C"|"I", "explanation": ...}}}`` to OUT_JSON.

The canned model is Inspect's ``mockllm`` with a callable that plays a stackpolicy scripted
behaviour on the sample it is shown (found by its request and situation, as an agent sees
them). Every output carries its own token usage, so mockllm never counts tokens with
tiktoken (whose encoding would be downloaded on first use; this machine is offline).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model

from generators.documents.model import EvalCase
from generators.evalrun.scripted import plan


def run(task_file: str, behaviour: str, log_dir: str) -> dict[str, dict[str, object]] | None:
    dataset = Path(task_file).with_name("stackpolicy_evals.jsonl")
    cases = [EvalCase.model_validate(json.loads(line)["metadata"]["case"])
             for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]

    def outputs(input, tools, tool_choice, config):  # noqa: A002 - mockllm's signature
        system = next((m.text for m in input if m.role == "system"), "")
        request = next((m.text for m in input if m.role == "user"), "")
        case = next(c for c in cases if c.request == request and c.situation in system)
        n = sum(1 for m in input if m.role == "assistant")
        steps = plan(case, behaviour)
        step = steps[min(n, len(steps) - 1)]
        if step.tool:
            out = ModelOutput.for_tool_call("mockllm/model", step.tool, dict(step.arguments))
        else:
            out = ModelOutput.from_content("mockllm/model", step.text)
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return out

    # Inspect resolves task files relative to the working directory.
    os.chdir(Path(task_file).parent)
    logs = inspect_eval(Path(task_file).name, model=get_model("mockllm/model", custom_outputs=outputs), log_dir=log_dir,
                        display="none", max_samples=8)
    results = {}
    for log in logs:
        if log.status != "success":
            print(f"inspect run failed: {log.status} {log.error}", file=sys.stderr)
            return None
        for s in log.samples or []:
            score = (s.scores or {}).get("policy_grade")
            results[str(s.id)] = {"value": score.value if score else None,
                                  "explanation": score.explanation if score else None}
    return results


def main(task_file: str, log_dir: str, out_json: str, *behaviours: str) -> int:
    task_file = str(Path(task_file).resolve())
    log_dir, out_json = str(Path(log_dir).resolve()), str(Path(out_json).resolve())
    out = {}
    for b in behaviours:
        got = run(task_file, b, str(Path(log_dir) / b))
        if got is None:
            return 1
        out[b] = got
    Path(out_json).write_text(json.dumps(out, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
