"""Runbook scanner: commands from markdown code blocks, prompts and inline code."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from inventory import secrets
from inventory.config import Config
from inventory.scanners.base import ScanContext, SourceFile
from inventory.scanners.runbooks import RunbookScanner

RUNBOOK = """\
# Orders API runbook

## Production

Check the pods first:

```bash
# list pods
kubectl get pods -n acme-prod
kubectl rollout restart \\
  deployment/orders-api \\
  -n acme-prod
NAME        READY   STATUS
psql -h orders-db <<EOF
DELETE FROM orders WHERE id = 1;
EOF
echo don't panic
kubectl get po
```

```console
$ kafka-topics.sh --bootstrap-server b:9092 --list
orders-events
payments
# redis-cli -h cache FLUSHALL
# this line is a comment
user@bastion:~$ helm list -n acme-prod \\
> --all
```

```yaml
kind: Deployment
metadata:
  name: kubectl-get-pods
```

```python
import os; os.system("kubectl delete ns x")
```

Then run `kubectl logs deploy/orders-api -n acme-prod` or `ls -la` or `kubectl`.

## Staging

```
helm rollback orders 3 -n acme-staging
Rollback was a success!
```
"""


def scan(text: str, path: str = "docs/runbooks/orders.md"):
    return RunbookScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def by_line(frag) -> dict[int, str]:
    return {c.evidence.line: c.command for c in frag.commands}


def test_fenced_blocks_prompts_and_inline_code() -> None:
    frag = scan(RUNBOOK)
    got = by_line(frag)
    assert got == {
        9: "kubectl get pods -n acme-prod",
        10: "kubectl rollout restart deployment/orders-api -n acme-prod",
        14: "psql -h orders-db <<EOF\nDELETE FROM orders WHERE id = 1;\nEOF",
        17: "echo don't panic",
        18: "kubectl get po",
        22: "kafka-topics.sh --bootstrap-server b:9092 --list",
        25: "redis-cli -h cache FLUSHALL",
        27: "helm list -n acme-prod --all",
        41: "kubectl logs deploy/orders-api -n acme-prod",
        46: "helm rollback orders 3 -n acme-staging",
    }
    assert {c.source_kind for c in frag.commands} == {"runbook"}
    assert frag.warnings == []


def test_environment_hint_from_heading_then_path() -> None:
    frag = scan(RUNBOOK)
    envs = {c.evidence.line: c.environment for c in frag.commands}
    assert envs[9] == "prod" and envs[41] == "prod"
    assert envs[46] == "staging"
    frag = scan("# Cache\n\n```sh\nredis-cli INFO\n```\n", path="runbooks/dev/cache.md")
    assert frag.commands[0].environment == "dev"
    frag = scan("# Cache\n\n```sh\nredis-cli INFO\n```\n", path="runbooks/cache.md")
    assert frag.commands[0].environment is None


def test_console_block_output_is_not_a_command() -> None:
    frag = scan("```console\n$ kubectl get ns\nNAME STATUS\nacme-prod Active\n```\n")
    assert [c.command for c in frag.commands] == ["kubectl get ns"]


def test_bash_block_with_prompts_takes_only_prompt_lines() -> None:
    frag = scan("```bash\n$ kubectl get ns\ndefault   Active   10d\n$ helm list\n```\n")
    assert [c.command for c in frag.commands] == ["kubectl get ns", "helm list"]


def test_multi_line_quoted_sql_is_one_command() -> None:
    text = '```sh\npsql -c "\n  DROP TABLE audit;\n"\nkubectl get po\n```\n'
    frag = scan(text)
    assert by_line(frag) == {2: 'psql -c "\n  DROP TABLE audit;\n"', 5: "kubectl get po"}


def test_indented_and_unknown_language_blocks() -> None:
    text = "Steps:\n\n    kubectl delete pod x\n    some output\n\n```text\nterraform plan\nPlan: 1 to add\n```\n"
    frag = scan(text)
    assert [c.command for c in frag.commands] == ["kubectl delete pod x", "terraform plan"]


def test_secrets_are_redacted_before_storing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_redact(text: str) -> tuple[str, int]:
        return text.replace("hunter2", secrets.REDACTED), text.count("hunter2")

    monkeypatch.setattr(secrets, "redact_text", fake_redact)
    frag = scan("```bash\nredis-cli -a hunter2 INFO\nkubectl get po\n```\n")
    assert frag.commands[0].command == "redis-cli -a <redacted> INFO"
    assert all("hunter2" not in c.command for c in frag.commands)
    assert [str(e) for e in frag.secrets] == ["docs/runbooks/orders.md:2"]


def test_matches_markdown_only() -> None:
    s = RunbookScanner()
    assert s.matches(PurePosixPath("runbooks/x.md"), "")
    assert s.matches(PurePosixPath("README.markdown"), "")
    assert not s.matches(PurePosixPath("notes.txt"), "")


def test_garbage_markdown_does_not_raise() -> None:
    frag = scan("```bash\n" + "'\"`$(" * 50 + "\n```\n```\n\n")
    assert frag.warnings == []


CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.mark.corpora
def test_prometheus_runbooks_corpus() -> None:
    root = CORPORA / "prometheus-operator__runbooks"
    if not root.is_dir():
        pytest.skip("corpora not available")
    scanner = RunbookScanner()
    commands = []
    for path in sorted(root.rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        frag = scanner.scan(SourceFile(path=rel, text=path.read_text(encoding="utf-8", errors="replace")),
                            ScanContext(config=Config()))
        assert frag.warnings == [], rel
        commands.extend(frag.commands)
    tools = {c.command.split()[0] for c in commands}
    assert len(commands) > 20
    assert "kubectl" in tools


SESSIONS = """\
# Clean up

```shell
sudo gitlab-psql
```

```sql
SELECT count(*) FROM ci_builds;
DELETE FROM ci_builds
 WHERE created_at < now() - interval '1 year';
```

```console
$ sudo gitlab-rails console
irb(main):001:0> User.find_by(username: 'bob').destroy
irb(main):002:0> exit
```

```
$ redis-cli -h cache-prod
cache-prod:6379> FLUSHALL
OK
```

```console
$ kubectl exec -it orders-db-0 -n prod -- psql -U app orders
orders=# DROP TABLE tmp_import;
DROP TABLE
orders=# \\q
```

```sql
DROP TABLE not_in_a_session;
```
"""


def test_statements_typed_into_sessions_become_commands_of_that_session() -> None:
    got = by_line(scan(SESSIONS))
    assert got[8] == "sudo gitlab-psql -c 'SELECT count(*) FROM ci_builds'"
    assert got[9].startswith("sudo gitlab-psql -c 'DELETE FROM ci_builds")
    assert got[15] == "gitlab-rails runner 'User.find_by(username: '\"'\"'bob'\"'\"').destroy'"
    assert got[21] == "redis-cli -h cache-prod FLUSHALL"
    assert got[27] == "kubectl exec -it orders-db-0 -n prod -- psql -U app orders -c 'DROP TABLE tmp_import;'"
    assert 16 not in got and 22 not in got and 28 not in got and 29 not in got  # exit, output, \\q
    assert 34 not in got  # a sql block with no session open is content


OUTPUT_SHAPED = """\
```bash
ps -ef | grep gitaly
git      23079 12827 77 13:00 ?        00:00:01 /opt/gitlab/embedded/bin/gitaly
default     alertmanager-main-0     1/2     CrashLoopBackOff    37107 2d
Please select what kind of key you want:
Your selection?
pub   rsa4096/0xABCDEF0123456789 2016-01-01 [SC]
uid                   [ultimate] Ops <ops@example.com>
 id | name  | email
(3 rows)
listen_addresses = '*'
rate(ocs_rbd_children_count[30m]) > 10
cleanup() {
  kubectl delete pod -l app=x
}
'[{ "op": "replace", "path": "/spec/x", "value": true }]'
openshift-storage
kubectl get pods
```
"""


def test_output_shaped_lines_are_not_commands() -> None:
    got = by_line(scan(OUTPUT_SHAPED))
    assert sorted(got) == [2, 14, 18]  # ps -ef, the function body's kubectl, kubectl get pods
