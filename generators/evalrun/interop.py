"""What other runners hand back, as a :class:`Transcript` the one grader reads.

* a stackpolicy transcript (``{"messages": [...]}``: what the exported promptfoo agent
  provider returns, and what ``evals run`` writes);
* OpenAI-style tool calls (a list of calls, or ``{"tool_calls": [...]}``: what promptfoo's
  own providers return when the model calls tools, the agent's first move only);
* Inspect messages (``role``, ``content``/``text``, ``tool_calls`` with ``function`` and
  ``arguments``);
* plain text (an answer with no tool call).
"""

from __future__ import annotations

import json
from typing import Any

from generators.evalrun.model import Message, ToolCall, Transcript


def _args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_raw": str(raw)}


def _call(c: Any, n: int) -> ToolCall | None:
    if not isinstance(c, dict):
        return None
    fn = c.get("function") if isinstance(c.get("function"), dict) else c
    name = fn.get("name") or (c.get("function") if isinstance(c.get("function"), str) else None)
    if not isinstance(name, str):
        return None
    args = fn.get("arguments", fn.get("input", c.get("arguments", {})))
    return ToolCall(id=str(c.get("id") or f"call_{n}"), name=name, arguments=_args(args))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def messages_from(data: Any) -> list[Message]:
    """Provider-neutral messages from any of the shapes above (unknown shapes: one text answer)."""
    if isinstance(data, str):
        stripped = data.strip()
        if stripped[:1] in ("{", "["):
            try:
                return messages_from(json.loads(stripped))
            except ValueError:
                pass
        return [Message(role="assistant", text=data)]
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return [m for m in (_message(x, i) for i, x in enumerate(data["messages"])) if m is not None]
    if isinstance(data, dict) and "tool_calls" in data:
        calls = [c for c in (_call(x, i) for i, x in enumerate(data.get("tool_calls") or [])) if c]
        return [Message(role="assistant", text=_text(data.get("content")), tool_calls=calls)]
    if isinstance(data, list) and all(isinstance(x, dict) and "role" in x for x in data):
        return [m for m in (_message(x, i) for i, x in enumerate(data)) if m is not None]
    if isinstance(data, list):
        calls = [c for c in (_call(x, i) for i, x in enumerate(data)) if c]
        return [Message(role="assistant", tool_calls=calls)]
    return [Message(role="assistant", text=json.dumps(data, sort_keys=True, default=str))]


def _message(x: Any, n: int) -> Message | None:
    if not isinstance(x, dict):
        return None
    role = x.get("role")
    if role not in ("system", "user", "assistant", "tool"):
        return None
    calls = [c for c in (_call(t, n * 100 + i) for i, t in enumerate(x.get("tool_calls") or [])) if c]
    return Message(role=role, text=_text(x.get("text", x.get("content"))), tool_calls=calls,
                   tool_call_id=x.get("tool_call_id"), tool_name=x.get("tool_name") or x.get("function"))


def transcript_from(case_id: str, data: Any, provider: str = "external", model: str = "") -> Transcript:
    """A gradeable transcript of ``data`` for ``case_id``."""
    msgs = messages_from(data)
    if not msgs or msgs[0].role != "user":
        msgs = [Message(role="user", text="(request)")] + msgs
    return Transcript(case_id=case_id, attempt=1, provider=provider, model=model, messages=msgs,
                      steps=sum(1 for m in msgs if m.role == "assistant"))


def transcript_json(tr: Transcript) -> str:
    """The transcript as the JSON a promptfoo provider returns as its output."""
    return json.dumps({"case_id": tr.case_id, "messages": [m.model_dump(mode="json") for m in tr.messages]},
                      sort_keys=True)
