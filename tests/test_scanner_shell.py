"""Shell scanner: command lines of shell scripts and Makefile recipes."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from inventory import secrets
from inventory.commands.shell import parse_line
from inventory.config import Config
from inventory.scanners.base import ScanContext, SourceFile
from inventory.scanners.shell import ShellScanner

SCRIPT = """\
#!/usr/bin/env bash
# Reset a consumer group's offsets.
set -euo pipefail

NAMESPACE="${NAMESPACE:-kafka}"
GROUP="$1"

usage() {
  echo "usage: $0 GROUP"
}

if [[ -z "$GROUP" && -n "$X" ]]; then
  usage
  exit 1
fi

case "$MODE" in
  to-latest|to-earliest) RESET_ARGS=(--"$MODE") ;;
  dry-run)
    ;;
esac

kubectl -n "$NAMESPACE" exec events-0 -- \\
  kafka-consumer-groups.sh --bootstrap-server localhost:9092 \\
  --group "$GROUP" --reset-offsets --to-earliest --execute

psql -h orders-db <<'SQL'
TRUNCATE staging_orders;
SQL
for i in 1 2 3; do
  kubectl delete pod "orders-api-$i" -n acme-prod
done
"""

MAKEFILE = """\
KUBECTL ?= kubectl
NAMESPACE := acme-prod

define HELP
kubectl delete ns everything
endef

.PHONY: deploy-prod logs clean

deploy-prod: build ## Deploy to production
\t@echo "deploying"
\t$(KUBECTL) apply -k k8s/overlays/prod \\
\t  --prune -l app=orders
\t-@kubectl -n $(NAMESPACE) rollout status deploy/orders-api

logs:
\t$(KUBECTL) -n $(NAMESPACE) logs -f deployment/orders-api --since=10m

clean: ; rm -rf build/
\tfor f in $$(ls dist); do rm "$$f"; done
"""


def scan(text: str, path: str):
    return ShellScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def test_script_commands_with_continuations_heredocs_and_control_flow() -> None:
    frag = scan(SCRIPT, "scripts/rotate-offsets.sh")
    got = {c.evidence.line: c.command for c in frag.commands}
    # Assignments alone (NAMESPACE=..., RESET_ARGS=(...)) run nothing and are skipped.
    assert got == {
        3: "set -euo pipefail",
        9: 'echo "usage: $0 GROUP"',
        12: 'if [[ -z "$GROUP" && -n "$X" ]]; then',
        # 13: `usage` calls the function defined above: its body (line 9) is the command
        14: "exit 1",
        23: 'kubectl -n "$NAMESPACE" exec events-0 -- kafka-consumer-groups.sh --bootstrap-server localhost:9092 '
            '--group "$GROUP" --reset-offsets --to-earliest --execute',
        27: "psql -h orders-db <<'SQL'\nTRUNCATE staging_orders;\nSQL",
        31: 'kubectl delete pod "orders-api-$i" -n acme-prod',
    }
    assert {c.source_kind for c in frag.commands} == {"script"}
    # What the lines run, once parsed, is what matters downstream.
    inner = parse_line(got[23]).commands[-1]
    assert (inner.tool, inner.verb, inner.flags["execute"]) == ("kafka-consumer-groups", "reset-offsets", True)
    assert parse_line(got[27]).commands[0].sql_kinds == ["truncate"]


def test_script_environment_from_path() -> None:
    frag = scan("kubectl get po\n", "deploy/prod/rollout.sh")
    assert frag.commands[0].environment == "prod"


def test_makefile_recipes() -> None:
    frag = scan(MAKEFILE, "Makefile")
    got = {c.evidence.line: c.command for c in frag.commands}
    assert got == {
        11: 'echo "deploying"',
        12: "$(KUBECTL) apply -k k8s/overlays/prod --prune -l app=orders",
        14: "kubectl -n $(NAMESPACE) rollout status deploy/orders-api",
        17: "$(KUBECTL) -n $(NAMESPACE) logs -f deployment/orders-api --since=10m",
        19: "rm -rf build/",
        20: 'for f in $(ls dist); do rm "$f"; done',
    }
    assert {c.source_kind for c in frag.commands} == {"makefile"}
    envs = {c.evidence.line: c.environment for c in frag.commands}
    assert envs[12] == "prod"  # from the rule name deploy-prod
    assert envs[17] is None
    applied = parse_line(got[12]).commands[0]
    assert (applied.tool, applied.verb) == ("kubectl", "apply")


def test_matches_scripts_shebangs_and_makefiles() -> None:
    s = ShellScanner()
    assert s.matches(PurePosixPath("scripts/x.sh"), "")
    assert s.matches(PurePosixPath("x.bash"), "")
    assert s.matches(PurePosixPath("Makefile"), "")
    assert s.matches(PurePosixPath("build/rules.mk"), "")
    assert s.matches(PurePosixPath("bin/deploy"), "#!/bin/bash\nset -e\n")
    assert s.matches(PurePosixPath("bin/deploy"), "#!/usr/bin/env sh\n")
    assert not s.matches(PurePosixPath("bin/tool"), "#!/usr/bin/env python3\n")
    assert not s.matches(PurePosixPath("README.md"), "")


def test_script_secrets_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_redact(text: str) -> tuple[str, int]:
        return text.replace("hunter2", secrets.REDACTED), text.count("hunter2")

    monkeypatch.setattr(secrets, "redact_text", fake_redact)
    frag = scan("export PGPASSWORD=hunter2\npsql -c 'SELECT 1'\n", "scripts/q.sh")
    assert frag.commands[0].command == "export PGPASSWORD=<redacted>"
    assert [e.line for e in frag.secrets] == [1]


def test_broken_script_does_not_raise() -> None:
    frag = scan("echo 'unterminated\nkubectl get po\n\"\n$(\n`\n", "x.sh")
    assert frag.warnings == []
    assert frag.commands  # something was still read


def test_calls_of_functions_the_script_defines_are_not_commands() -> None:
    from inventory.config import Config
    from inventory.scanners.base import ScanContext, SourceFile
    from inventory.scanners.shell import ShellScanner

    text = "#!/bin/bash\nrestart_api() {\n  kubectl rollout restart deploy/api -n prod\n}\nfunction wipe {\n  rm -rf /tmp/x\n}\nrestart_api\nwipe && echo done\n"
    frag = ShellScanner().scan(SourceFile(path="ops.sh", text=text), ScanContext(config=Config()))
    got = {c.evidence.line: c.command for c in frag.commands}
    assert 3 in got and 6 in got  # the bodies are the commands
    assert 8 not in got  # `restart_api` runs line 3, already a command
    assert got[9] == "wipe && echo done"  # it also runs echo
