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


_DICT_ATTRS = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja2 with ``x.key`` on a plain dict looked up as an item first.

    Jinja tries the attribute first and falls back to the item, so every ``a.id`` on a slice
    view (a dict) raises and catches an AttributeError: a fifth of a prompt's rendering. For
    a name that is not an attribute of ``dict`` the attribute lookup always fails, so asking
    for the item first gives the same result; dict methods (``items``...) still resolve as
    Jinja resolves them."""

    def getattr(self, obj: object, attribute: str) -> object:
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class PromptRenderer:
    """Renders the policy and eval prompts; ``user_dir`` templates shadow the bundled ones."""

    def __init__(self, tiers: list[TierDefinition], user_dir: str | Path | None = None) -> None:
        search = [str(user_dir)] if user_dir else []
        if user_dir and not Path(user_dir).is_dir():
            raise PromptError(f"{user_dir}: prompts directory not found")
        self.env = _Environment(
            loader=jinja2.FileSystemLoader([*search, str(_bundled_dir())]),
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False,
            autoescape=False,  # noqa: S701 - markdown prompts, not HTML
        )
        self.tiers = tiers
        self.policy_schema = strict_schema(PolicyAnswer)
        self.evals_schema = strict_schema(EvalAnswer)
        # Rendered once per run: they do not depend on the slice.
        self._schema_json = {POLICY_SCHEMA_NAME: json.dumps(self.policy_schema, indent=1),
                             EVALS_SCHEMA_NAME: json.dumps(self.evals_schema, indent=1)}
        self._system: str | None = None

    def fingerprint(self) -> str:
        """sha256 of what shapes every prompt but the slice: the templates on the search path
        (user directory first, as the loader sees them), the tiers and the answer schemas."""
        h = hashlib.sha256()
        for d in self.env.loader.searchpath:  # type: ignore[union-attr] - always a FileSystemLoader
            for path in sorted(Path(d).rglob("*.j2")):
                h.update(f"{d}\0{path.relative_to(d)}\0".encode())
                h.update(path.read_bytes())
        h.update(json.dumps([t.model_dump(mode="json") for t in self.tiers], sort_keys=True).encode())
        h.update(json.dumps(self._schema_json, sort_keys=True).encode())
        return h.hexdigest()

    def _render(self, name: str, **ctx: object) -> str:
        try:
            return self.env.get_template(name).render(**ctx)
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise PromptError(f"{name}: cannot render: {exc}") from exc

    def _common(self, sl: Slice, schema_name: str, example: dict) -> dict[str, object]:
        raw = json.dumps(sl.view, sort_keys=True)
        # Defang only when needed: walking every string of every slice is the slow path.
        view = _defang(sl.view) if ("<<<" in raw or ">>>" in raw) else sl.view
        nonce = hashlib.sha256(raw.encode()).hexdigest()[:8]
        return {"s": view, "tiers": self.tiers, "nonce": nonce,
                "schema_json": self._schema_json[schema_name], "example_json": json.dumps(example, indent=1)}

    def system_text(self) -> str:
        """The shared system framing (``_system.md.j2``)."""
        if self._system is None:
            self._system = self._render(SYSTEM_TEMPLATE, tiers=self.tiers)
        return self._system

    def policy(self, sl: Slice) -> RenderedPrompt:
        """The policy prompt for one slice."""
        a = sl.view["actions"][0]
        ex = policy_example(sl.system_id, a["id"], a["floor"], (a["evidence"] or ["path:1"])[0])
        text = self._render(POLICY_TEMPLATE, **self._common(sl, POLICY_SCHEMA_NAME, ex))
        return RenderedPrompt(f"policy:{sl.key}", "policy", sl.system_id, self.system_text(), text,
                              POLICY_SCHEMA_NAME, self.policy_schema)

    def evals(self, sl: Slice) -> RenderedPrompt:
        """The eval prompt for one slice (its ``cases`` must be set)."""
        c = sl.cases[0]
        ex = evals_example(sl.system_id, c.id, str(c.evidence[0]) if c.evidence else "path:1")
        cases = [_defang({"id": c.id, "category": c.category, "expected": c.expected, "shortcut_tier": c.shortcut_tier,
                          "action_ids": _capped(c.action_ids, 5), "request": c.request[:400]}) for c in sl.cases]
        text = self._render(EVALS_TEMPLATE, cases=cases, **self._common(sl, EVALS_SCHEMA_NAME, ex))
        return RenderedPrompt(f"evals:{sl.key}", "evals", sl.system_id, self.system_text(), text,
                              EVALS_SCHEMA_NAME, self.evals_schema)


def _capped(ids: list[str], limit: int) -> list[str]:
    return ids if len(ids) <= limit else [*ids[:limit], f"... and {len(ids) - limit} more"]


def _defang(obj: object) -> object:
    """Scanned strings cannot open or close an untrusted fence."""
    if isinstance(obj, str):
        return obj.replace("<<<", "‹‹‹").replace(">>>", "›››")
    if isinstance(obj, dict):
        return {k: _defang(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_defang(v) for v in obj]
    return obj
