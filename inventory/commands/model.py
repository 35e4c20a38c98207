"""What a parsed shell command looks like. Shared by the scanners (runbook commands become
actions) and the classifier (an agent's command gets a tier)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ParsedCommand(BaseModel):
    """One simple command, after compound lines, wrappers and nesting are unwrapped.

    ``tool`` is normalised (``/usr/local/bin/kubectl`` → ``kubectl``,
    ``kafka-topics.sh`` → ``kafka-topics``). ``verb`` is the tool's own operation in a
    normalised form (``get``, ``delete``, ``rollout restart``, ``reset-offsets``, ``sql``,
    ``s3 cp``...), or ``unknown`` when the tool or its arguments are not understood.
    """

    model_config = ConfigDict(extra="forbid")

    raw: str
    argv: list[str] = Field(default_factory=list)
    tool: str
    verb: str = "unknown"
    object_kind: str | None = None  # pod, deployment, namespace, topic, consumer-group, table, bucket, secret...
    target: str | None = None  # the object's name or URL
    namespace: str | None = None
    flags: dict[str, str | bool] = Field(default_factory=dict)
    sql_kinds: list[str] = Field(default_factory=list)  # select, insert, update, delete, drop, truncate, alter, grant...
    sql: str | None = None
    wrappers: list[str] = Field(default_factory=list)  # sudo, env, timeout, nohup, xargs, watch...
    via: str | None = None  # how it was reached: "kubectl exec", "bash -c", "pipe", "ssh"...
    parse_error: str | None = None


class CommandLine(BaseModel):
    """A whole shell line: every simple command it would run, flattened, in order."""

    model_config = ConfigDict(extra="forbid")

    raw: str
    commands: list[ParsedCommand] = Field(default_factory=list)
    operators: list[str] = Field(default_factory=list)  # &&, ||, ;, |, & as seen
    parse_error: str | None = None  # the line as a whole could not be parsed
