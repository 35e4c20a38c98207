"""GitHub Actions workflows: the commands CI runs, where it deploys, and how it is triggered.

Every workflow becomes a ``job`` component (``job:gha-<file stem>``, subtype
``github-actions``) whose attributes record its triggers (``workflow_dispatch`` means a
person, or an agent, can start it by hand), the environments its jobs deploy to, and the
deploy actions it uses. Each line of a ``run:`` step becomes a :class:`CommandSighting`
(``source_kind="workflow"``) with the job's environment as a hint, so the commands engineer
can turn them into action classes. ``${{ secrets.X }}`` only names a secret and is kept.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from inventory.environments import detect_environment
from inventory.model import Component, Evidence, Fact, entity_id
from inventory.scanners._common import fact, keep
from inventory.scanners._yaml import Doc, load_documents
from inventory.scanners.base import CommandSighting, Fragment, ScanContext, Scanner, SourceFile

# `uses:` prefixes of actions that deploy somewhere (owner/repo, case-insensitive).
DEPLOY_ACTIONS: tuple[str, ...] = (
    "azure/k8s-deploy",
    "azure/webapps-deploy",
    "azure/functions-action",
    "azure/helm",
    "aws-actions/amazon-ecs-deploy-task-definition",
    "aws-actions/aws-cloudformation-github-deploy",
    "aws-actions/amazon-eks",
    "google-github-actions/deploy-cloudrun",
    "google-github-actions/deploy-appengine",
    "google-github-actions/get-gke-credentials",
    "hashicorp/setup-terraform",
    "helm/helm-action",
    "deliverybot/helm",
    "appleboy/ssh-action",
    "pulumi/actions",
    "cloudflare/wrangler-action",
    "serverless/github-action",
)
# Shell keywords and punctuation that are not commands on their own.
_NOT_COMMANDS = re.compile(r"^(fi|done|then|else|esac|do|\{|\}|\)|;;|EOF|end)\s*;?$")
_EXPR_RE = re.compile(r"\$\{\{.*?\}\}")


def _joined_lines(script: str) -> list[tuple[int, str]]:
    """``(line offset, command)`` for each logical line; ``\\`` continuations are joined."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for i, raw in enumerate(script.splitlines()):
        line = raw.rstrip()
        if not buf:
            start = i
        if line.endswith("\\"):
            buf.append(line[:-1].strip())
            continue
        buf.append(line.strip())
        text = " ".join(p for p in buf if p)
        buf = []
        if text and not text.startswith("#") and not _NOT_COMMANDS.match(text):
            out.append((start, text))
    if buf:
        text = " ".join(p for p in buf if p)
        if text and not text.startswith("#"):
            out.append((start, text))
    return out


def _env_name(value: Any) -> str | None:
    """``environment: prod`` or ``environment: {name: prod, url: ...}``."""
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if isinstance(value, (str, int)) and str(value).strip() else None


_REACHES_OUT = re.compile(r"\b(aws|gcloud|gsutil|bq|az|kubectl|helm|terraform|psql|mysql|ssh|scp|rsync|curl -X (POST|PUT|DELETE)|"
                         r"docker push|aws-actions/|google-github-actions/|azure/)\b", re.IGNORECASE)
# What a workflow's steps do (a rerun does it again): publish artifacts, run tests, deploy.
_DOES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("publishes", re.compile(r"docker(/build-push-action|\s+push\b)|npm publish|twine upload|gh release create|"
                             r"goreleaser|helm push|mvn deploy|gradle publish|cargo publish|pypa/gh-action-pypi-publish",
                             re.IGNORECASE)),
    ("runs-tests", re.compile(r"\b(pytest|tox|go test|npm (run )?test|yarn test|make test|mvn test|gradle test|"
                              r"cargo test|rspec|jest|phpunit)\b", re.IGNORECASE)),
    ("deploys", re.compile(r"\b(kubectl (apply|set image|rollout)|helm (upgrade|install)|terraform apply|"
                           r"aws ecs update-service|gcloud run deploy|flux reconcile|argocd app sync)\b", re.IGNORECASE)),
)


class GithubActionsScanner(Scanner):
    """`.github/workflows/*.yml`."""

    name = "github-actions"
    version = 4
    suffixes = (".yaml", ".yml")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        parts = path.parts
        return (
            path.suffix.lower() in (".yml", ".yaml")
            and len(parts) >= 3
            and parts[-3] == ".github"
            and parts[-2] == "workflows"
        )

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        docs = load_documents(src, frag)
        doc = next((d for d in docs if isinstance(d.data, dict)), None)
        if doc is None:
            return frag
        jobs = doc.data.get("jobs")
        if not isinstance(jobs, dict):
            if jobs is not None:
                frag.warn("`jobs` is not a mapping", line=doc.line_of(("jobs",)))
            return frag
        patterns = ctx.config.environments
        stem = src.pure.name.rsplit(".", 1)[0]
        wf_name = doc.data.get("name")
        title = str(wf_name) if isinstance(wf_name, (str, int)) else stem
        ev = src.evidence(doc.line)
        comp = Component(id=entity_id("job", f"gha-{stem}"), kind="job", name=title, subtype="github-actions", evidence=[ev])
        triggers = self._triggers(doc)
        comp.attributes["triggers"] = triggers
        comp.attributes["workflow_dispatch"] = "workflow_dispatch" in triggers
        if "schedule" in triggers:
            crons = [str(c.get("cron")) for c in self._on(doc).get("schedule") or [] if isinstance(c, dict) and c.get("cron")]
            if crons:
                comp.attributes["schedule"] = crons
        deploy_uses: set[str] = set()
        does: dict[str, Evidence] = {}
        reaches_out = False  # a step talks to a cloud, a cluster, a database or a host
        for jid in sorted(jobs, key=str):
            job = jobs[jid]
            if not isinstance(job, dict):
                frag.warn(f"job {jid!r} is not a mapping", line=doc.line_of(("jobs", jid)))
                continue
            env_raw = _env_name(job.get("environment"))
            env = None
            if env_raw and not _EXPR_RE.fullmatch(env_raw.strip()):
                env = detect_environment(env_raw, patterns=patterns)
                comp.attributes.setdefault("deploy_environments", [])
                envs = comp.attributes["deploy_environments"]
                if isinstance(envs, list) and env_raw not in envs:
                    envs.append(env_raw)
            if env is None:
                # A job *named* for an environment (deploy-prod) hints at it; "test"/"ci" job
                # names describe what the job does, not where, so they are not environments.
                guess = detect_environment(str(jid), str(job.get("name") or ""), patterns=patterns)
                env = guess if guess not in (None, "test") else None
            if env:
                jev = src.evidence(doc.line_of(("jobs", jid, "environment")) if env_raw else doc.line_of(("jobs", jid)))
                if env not in comp.environments:
                    comp.environments.append(env)
                    comp.facts.append(Fact(name="environment", value=env, evidence=[jev],
                                           how=(f"job {jid} deploys to the {env_raw} environment" if env_raw
                                                else f"job {jid} is named for {env}")))
            self._secret_env(src, frag, doc, ("jobs", jid), job)
            steps = job.get("steps")
            for i, step in enumerate(steps if isinstance(steps, list) else []):
                if not isinstance(step, dict):
                    continue
                self._secret_env(src, frag, doc, ("jobs", jid, "steps", i), step)
                uses = step.get("uses")
                if isinstance(uses, str):
                    repo = uses.split("@", 1)[0].lower()
                    if any(repo == d or repo.startswith(d + "/") for d in DEPLOY_ACTIONS):
                        deploy_uses.add(repo)
                        uev = src.evidence(doc.line_of(("jobs", jid, "steps", i, "uses")))
                        comp.facts.append(fact("deploys-with", repo, uev))
                run = step.get("run")
                if isinstance(run, str):
                    self._run(src, frag, doc, ("jobs", jid, "steps", i, "run"), run, env)
                # What the workflow does, read from its steps: a rerun repeats it.
                text = " ".join(str(x) for x in (uses, run) if isinstance(x, str))
                if _REACHES_OUT.search(text):
                    reaches_out = True
                sev = src.evidence(doc.line_of(("jobs", jid, "steps", i)))
                for what, rx in _DOES:
                    if rx.search(text) and what not in does:
                        does[what] = sev
            if env:
                does.setdefault("deploys", src.evidence(doc.line_of(("jobs", jid))))
        if deploy_uses:
            comp.attributes["deploy_actions"] = sorted(deploy_uses)
            does.setdefault("deploys", comp.evidence[0])
        comp.attributes["workflow_file"] = src.pure.name
        if does:
            comp.attributes["does"] = sorted(does)
            for what, wev in sorted(does.items()):
                comp.facts.append(fact("does", what, wev))
        for env in sorted(comp.environments):
            comp.facts.append(fact("deploys_to", env, comp.evidence[0]))
        if set(does) == {"runs-tests"} and not comp.environments and not reaches_out:
            # Only runs tests on the CI runner: it deploys, publishes and reaches nothing else.
            comp.environments.append("test")
            comp.facts.append(Fact(name="environment", value="test", evidence=[does["runs-tests"]],
                                   how="the workflow only runs tests on CI (deploys, publishes and connects to nothing)"))
        if isinstance(comp.attributes.get("deploy_environments"), list):
            comp.attributes["deploy_environments"] = sorted(comp.attributes["deploy_environments"])  # type: ignore[arg-type]
        frag.components.append(comp)
        return frag

    @staticmethod
    def _on(doc: Doc) -> dict:
        # YAML 1.1 reads a bare `on:` key as the boolean True.
        on = doc.data.get("on", doc.data.get(True))
        if isinstance(on, dict):
            return on
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {str(t): None for t in on}
        return {}

    def _triggers(self, doc: Doc) -> list[str]:
        return sorted(str(k) for k in self._on(doc))

    def _secret_env(self, src: SourceFile, frag: Fragment, doc: Doc, base: tuple, node: dict) -> None:
        """Literal values of secret-named ``env:`` keys are recorded as secrets."""
        env = node.get("env")
        if not isinstance(env, dict):
            return
        for k, v in env.items():
            if isinstance(v, (str, int)) and not _EXPR_RE.search(str(v)):
                keep(frag, str(k), str(v), src.evidence(doc.line_of(base + ("env", k))))

    def _run(self, src: SourceFile, frag: Fragment, doc: Doc, path: tuple, script: str, env: str | None) -> None:
        key_line = doc.line_of(path)
        lines = src.text.splitlines()
        header = lines[key_line - 1] if 0 < key_line <= len(lines) else ""
        # `run: |` / `run: >-`: the script starts on the next line; `run: cmd` on this one.
        block = bool(re.search(r"run:\s*[|>][+-]?\d*\s*(#.*)?$", header))
        for offset, text in _joined_lines(script):
            ev = src.evidence(key_line + 1 + offset if block else key_line)
            frag.commands.append(
                CommandSighting(command=keep(frag, "run", text, ev), evidence=ev, environment=env, source_kind="workflow")
            )
