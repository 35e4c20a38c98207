"""Render the prompt templates in ``prompts/`` (user overrides first) for one slice.

The loader looks in the user's prompts directory (``--prompts-dir`` or ``prompts_dir`` in
stackpolicy.yaml) before the bundled templates, so any template, including the shared
parts (``_system.md.j2``, ``_tiers.md.j2``...), can be replaced by a file of the same name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2

from generators.documents.model import TierDefinition
from generators.llm.schema import (
    EVALS_SCHEMA_NAME,
    POLICY_SCHEMA_NAME,
    EvalAnswer,
    PolicyAnswer,
    evals_example,
    policy_example,
    strict_schema,
)
from generators.llm.slices import Slice
from generators.providers.base import LLMRequest

BUNDLED_DIR = Path(__file__).resolve().parents[2] / "prompts"
POLICY_TEMPLATE = "policy.md.j2"
EVALS_TEMPLATE = "evals.md.j2"
SYSTEM_TEMPLATE = "_system.md.j2"


class PromptError(Exception):
    """A template that cannot be loaded or rendered; the message names the template and line."""


def _bundled_dir() -> Path:
    """The bundled templates: the repo's ``prompts/`` (editable install), else the installed package."""
    if (BUNDLED_DIR / POLICY_TEMPLATE).is_file():
        return BUNDLED_DIR
    from importlib.resources import files

    return Path(str(files("prompts")))


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready to send (or paste): system framing, task text, schema."""

    key: str  # "policy:<slice key>" / "evals:<slice key>"
    document: str  # policy | evals
    system_id: str
    system: str
    prompt: str
    schema_name: str
    schema: dict

    def request(self, max_tokens: int, temperature: float) -> LLMRequest:
        """The provider request for this prompt."""
        return LLMRequest(key=self.key, system=self.system, prompt=self.prompt, schema_name=self.schema_name,
                          schema=self.schema, max_tokens=max_tokens, temperature=temperature)

    def as_markdown(self) -> str:
        """System framing + task in one text, for pasting into a chat assistant."""
        return self.system.rstrip() + "\n\n" + self.prompt


class PromptRenderer:
    """Renders the policy and eval prompts; ``user_dir`` templates shadow the bundled ones."""

    def __init__(self, tiers: list[TierDefinition], user_dir: str | Path | None = None) -> None:
        search = [str(user_dir)] if user_dir else []
        if user_dir and not Path(user_dir).is_dir():
            raise PromptError(f"{user_dir}: prompts directory not found")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*search, str(_bundled_dir())]),
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False,
            autoescape=False,  # noqa: S701 - markdown prompts, not HTML
        )
        self.tiers = tiers
        self.policy_schema = strict_schema(PolicyAnswer)
        self.evals_schema = strict_schema(EvalAnswer)

    def _render(self, name: str, **ctx: object) -> str:
        try:
            return self.env.get_template(name).render(**ctx)
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise PromptError(f"{name}: cannot render: {exc}") from exc

    def _common(self, sl: Slice, schema: dict, example: dict) -> dict[str, object]:
        view = _defang(sl.view)
        nonce = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:8]
        return {"s": view, "tiers": self.tiers, "nonce": nonce,
                "schema_json": json.dumps(schema, indent=1), "example_json": json.dumps(example, indent=1)}

    def system_text(self) -> str:
        """The shared system framing (``_system.md.j2``)."""
        return self._render(SYSTEM_TEMPLATE, tiers=self.tiers)

    def policy(self, sl: Slice) -> RenderedPrompt:
        """The policy prompt for one slice."""
        a = sl.view["actions"][0]
        ex = policy_example(sl.system_id, a["id"], a["floor"], (a["evidence"] or ["path:1"])[0])
        text = self._render(POLICY_TEMPLATE, **self._common(sl, self.policy_schema, ex))
        return RenderedPrompt(f"policy:{sl.key}", "policy", sl.system_id, self.system_text(), text,
                              POLICY_SCHEMA_NAME, self.policy_schema)

    def evals(self, sl: Slice) -> RenderedPrompt:
        """The eval prompt for one slice (its ``cases`` must be set)."""
        c = sl.cases[0]
        ex = evals_example(sl.system_id, c.id, str(c.evidence[0]) if c.evidence else "path:1")
        cases = [_defang(c.model_dump()) for c in sl.cases]
        text = self._render(EVALS_TEMPLATE, cases=cases, **self._common(sl, self.evals_schema, ex))
        return RenderedPrompt(f"evals:{sl.key}", "evals", sl.system_id, self.system_text(), text,
                              EVALS_SCHEMA_NAME, self.evals_schema)


def _defang(obj: object) -> object:
    """Scanned strings cannot open or close an untrusted fence."""
    if isinstance(obj, str):
        return obj.replace("<<<", "‹‹‹").replace(">>>", "›››")
    if isinstance(obj, dict):
        return {k: _defang(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_defang(v) for v in obj]
    return obj
