"""`stackpolicy prompts` (write the rendered prompts as markdown) and `stackpolicy import FILE`.

Together they are the no-API path: paste each prompt into any chat assistant, collect the
JSON answers in one file, and import it. Imported answers pass the same validation and the
same safety floor as API answers.
"""

from __future__ import annotations

from pathlib import Path

import click

from generators.cli.common import EXIT_FINDINGS, UsageError, console, get_config
from generators.cli.llm_opts import all_prompts, flags_of, llm_options
from generators.cli.scan_cmd import run_scan
from generators.llm.importer import ImportError_, ImportProvider, read_answers
from generators.pipeline import assess, draft_documents, write_documents
from generators.risk.rules import RulesError
from inventory.io import atomic_write
from inventory.model import slug

README = """# stackpolicy prompts

{n} prompts rendered from the inventory of {sources} (inventory `{digest}`).
Secret values were redacted before these prompts were built.

1. Paste each file below into a chat assistant (one conversation per file is best).
2. Copy each JSON answer into one file, e.g. `answers.json` (a JSON list, or one ```json block per answer).
3. Run `stackpolicy import answers.json` (same `--sources` as here). Answers are validated against
   the inventory exactly like API answers; tiers can only go up from the risk model's floor.

{files}
"""


def _file_name(key: str) -> str:
    doc, _, rest = key.partition(":")
    return f"{doc}/{slug(rest.replace('#', '-part-').replace(':', '-').replace('/', '-'))}.md"


def register(main: click.Group) -> None:
    @main.command("prompts")
    @click.option("--sources", "sources", multiple=True, type=click.Path(), help="A source tree to scan (repeatable).")
    @click.option("--output", "output", default=None, type=click.Path(file_okay=False),
                  help="Directory for the prompts (default: <output>/prompts).")
    @click.option("--no-cache", is_flag=True, help="Ignore the per-file scan cache.")
    @llm_options
    @click.pass_context
    def prompts(ctx: click.Context, sources: tuple[str, ...], output: str | None, no_cache: bool) -> None:
        """Write every prompt, fully rendered, as markdown for pasting into a chat assistant."""
        cfg = get_config(ctx)
        inv, _stats = run_scan(ctx, sources, use_cache=not no_cache)
        try:
            policy, evals = draft_documents(inv, assess(inv, cfg), cfg, provider=None)
        except RulesError as exc:
            raise UsageError(str(exc)) from exc
        rendered = all_prompts(cfg, flags_of(ctx), inv, policy, evals)
        out = Path(output or Path(cfg.output) / "prompts")
        texts = {_file_name(p.key): p.as_markdown() for p in rendered}
        texts["README.md"] = README.format(
            n=len(rendered), sources=", ".join(inv.sources), digest=inv.digest(),
            files="\n".join(f"- [{name}]({name})" for name in sorted(texts)))
        try:
            for name, text in sorted(texts.items()):
                atomic_write(out / name, text)
        except OSError as exc:
            raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from exc
        console().print(f"wrote {len(rendered)} prompts to {out}/ (start with {out / 'README.md'})")

    @main.command("import")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--sources", "sources", multiple=True, type=click.Path(), help="A source tree to scan (repeatable).")
    @click.option("--output", "output", default=None, type=click.Path(file_okay=False), help="Output directory.")
    @click.option("--no-cache", is_flag=True, help="Ignore the per-file scan cache.")
    @click.pass_context
    def import_(ctx: click.Context, file: str, sources: tuple[str, ...], output: str | None, no_cache: bool) -> None:
        """Import JSON answers pasted from a chat assistant; validate them; write the documents.

        Nothing is written if any answer fails validation (exit 1); the errors name the answer.
        """
        cfg = get_config(ctx)
        try:
            answers = read_answers(file)
        except ImportError_ as exc:
            raise UsageError(str(exc)) from exc
        inv, _stats = run_scan(ctx, sources, use_cache=not no_cache)
        provider = ImportProvider(answers, Path(file).name)
        try:
            policy, evals = draft_documents(inv, assess(inv, cfg), cfg, provider=provider)
        except RulesError as exc:
            raise UsageError(str(exc)) from exc
        con = console()
        if provider.errors:
            for e in provider.errors:
                click.echo(f"{file}: {e}", err=True)
            click.echo(f"error: {len(provider.errors)} validation errors; nothing was written", err=True)
            ctx.exit(EXIT_FINDINGS)
        out_dir = Path(output or cfg.output)
        try:
            written = write_documents(policy, evals, out_dir, inv=inv)
        except OSError as exc:
            raise UsageError(f"{out_dir}: cannot write: {exc.strerror or exc}") from exc
        con.print(f"imported {len(provider.applied)} answers from {file}: " + ", ".join(provider.applied))
        for p in written.paths:
            con.print(f"  wrote {p}")
