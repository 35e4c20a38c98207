"""Exports of the reviewed policy into enforceable configs, one module per target.

Each module has ``export(ctx: ExportContext) -> ExportResult``; :data:`TARGETS` names them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `classify --json` imports opa_input from this package: keep its start-up light
    from generators.exporters.base import ExportContext, ExportResult

TARGETS: dict[str, str] = {
    "claude-code": "generators.exporters.claude_code",
    "codex": "generators.exporters.codex",
    "opa": "generators.exporters.opa",
    "json": "generators.exporters.json_table",
    "promptfoo": "generators.exporters.promptfoo",  # eval suite → promptfooconfig.yaml
    "inspect": "generators.exporters.inspect_ai",  # eval suite → Inspect AI dataset + task
}


def exporter(target: str) -> Callable[[ExportContext], ExportResult]:
    """The export function for ``target`` (a key of :data:`TARGETS`)."""
    return importlib.import_module(TARGETS[target]).export  # type: ignore[no-any-return]
