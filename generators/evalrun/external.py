"""An agent for other runners: the exported promptfoo provider plays a case through here.

``agent`` is ``scripted:<behaviour>`` (see :mod:`generators.evalrun.scripted`; no model) or
``<provider>:<model>`` (``openai:gpt-4.1-mini``, ``anthropic:...``, ``openai-compatible:...``),
run through the same tool-calling loop and simulated tools as ``stackpolicy evals run``. The
answer is the whole transcript as JSON, which the exported assertion grades.
"""

from __future__ import annotations

import asyncio
from typing import Any

from generators.documents.model import EvalCase
from generators.evalrun.interop import transcript_json
from generators.evalrun.model import Transcript
from generators.evalrun.scripted import transcript_messages
from generators.evalrun.tools import CaseTools


def play(case: EvalCase, agent: str, texts: dict[str, str] | None = None, max_steps: int = 8,
         base_url: str | None = None) -> str:
    """The transcript (JSON) of ``agent`` on ``case``."""
    tools = CaseTools(case, texts=texts)
    kind, _, model = agent.partition(":")
    if kind == "scripted":
        msgs = transcript_messages(case, model, tools.call)
        tr = Transcript(case_id=case.id, attempt=1, provider="scripted", model=model, messages=msgs,
                        steps=sum(1 for m in msgs if m.role == "assistant"))
        return transcript_json(tr)
    from generators.evalrun.agent import DEFAULT_SYSTEM_PROMPT, LoopLimits, backend_for, run_case
    from generators.providers.base import RetryPolicy
    from generators.providers.select import build_provider
    from inventory.config import ProviderConfig

    sel = build_provider(ProviderConfig(name=kind, model=model or None, base_url=base_url), retry=RetryPolicy())
    if sel.provider is None:
        raise RuntimeError(f"no agent to run: {sel.reason}")
    provider: Any = sel.provider

    async def go() -> Transcript:
        try:
            return await run_case(backend_for(provider), case, tools, DEFAULT_SYSTEM_PROMPT, 1,
                                  LoopLimits(max_steps=max_steps))
        finally:
            await provider.aclose()

    return transcript_json(asyncio.run(go()))
