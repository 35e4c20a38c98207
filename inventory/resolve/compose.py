"""Compose stacks: local development only when the repository says so.

Signals (recorded by the compose and readme scanners): a dev/override file name, a header
comment, ``dev`` profiles, source bind-mounted into a dev server, a README beside the file (or
in a parent directory) that says the compose setup is for local development. Without one, a
compose stack is a deployment, and where it runs is left to the other signals (or the
estate's one question).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from inventory.model import Evidence
from inventory.resolve.base import Assignment, ResolveContext, Resolver


def _ancestors(d: str) -> list[str]:
    out = [d]
    while d not in ("", "."):
        d = posixpath.dirname(d)
        out.append(d or ".")
    return out


class ComposeDevResolver(Resolver):
    """Compose files the repository calls local development."""

    name = "compose-local-development"
    order = 30
    reads_commands = False

    def resolve(self, ctx: ResolveContext) -> Iterator[Assignment]:
        readmes: dict[str, dict] = {}
        for f in ctx.of_scanner("readme"):
            info = f.extra.get("readme")
            if info:
                readmes[info["dir"] or "."] = {**info, "path": f.path}
        for f in sorted(ctx.of_scanner("compose"), key=lambda x: x.path):
            info = f.extra.get("compose")
            if not info or info.get("env"):
                continue  # named for an environment already (`docker-compose.prod.yml`)
            signal = None
            if info.get("dev_signals"):
                how, line = info["dev_signals"][0]
                signal = (f"local development: {how}", Evidence(path=f.path, line=max(1, int(line))))
            else:
                for d in _ancestors(info["dir"] or "."):
                    r = readmes.get(d)
                    if r:
                        signal = (f"local development: {r['path']} says {r['says']!r}",
                                  Evidence(path=r["path"], line=r["local_development"]))
                        break
            if signal is None:
                continue
            for ent in (*f.components, *f.resources):
                yield Assignment(ent.id, "dev", signal[0], (ctx.defining_evidence(ent.id, f.path), signal[1]))
