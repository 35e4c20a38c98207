"""Every export, fed the classifier's own test table and the policy's own commands, decides
exactly like the classifier wherever one of its rules applies.

Each target's matching is re-implemented here from its documentation, independently of
the exporter's code:

* Claude Code: ``Bash(x)`` is an exact match; ``Bash(x *)`` matches ``x`` followed by a space
  and anything (and ``x`` alone); ``Bash(x:*)`` is the legacy prefix form. Deny beats ask
  beats allow. A compound command (``&&``, ``||``, ``;``, ``|``) is checked per subcommand:
  any denied part denies, any asked part asks, and it is allowed only if every part is.
* Codex: ``prefix_rule`` matches when argv starts with the pattern (an element may be a
  list of alternatives); the strictest decision wins (forbidden > prompt > allow).
* JSON table / OPA data: argv equals (exact) or starts with (prefix) the rule's argv;
  the strictest decision wins.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.export_fixture import classifier_for, generate_and_export, read_json
from tests.test_classify import TABLE

RANK = {"allow": 0, "ask": 1, "deny": 2}
CODEX = {"allow": "allow", "prompt": "ask", "forbidden": "deny"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_and_export(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def clf(exported: Path):  # noqa: ANN201
    return classifier_for(exported)


def _commands(out: Path) -> list[str]:
    policy = read_json(out / "enforce" / "json" / "decisions.json")
    import yaml

    data = yaml.safe_load((out / "policy.yaml").read_text())
    # Redacted values and placeholders (`<redacted>`, `<k>`) are not what an agent types: the
    # shell would read them as redirections.
    own = [a["command"] for s in data["systems"] for a in s["actions"] if not re.search(r"<[A-Za-z][^<>]*>", a["command"])]
    rule_cmds = [" ".join(r["argv"]) for r in policy["rules"]]
    # The rules' own commands with dangerous extensions: where the classifier would go
    # stricter, a prefix rule must not match.
    extended = [f"{c} {tail}" for c in rule_cmds for tail in ("--all", "--force", "-n kube-system", "extra-arg")]
    return sorted(set([c for c, _ in TABLE] + own + extended))


# -- Claude Code -------------------------------------------------------------------------

def _cc_spec_match(spec: str, cmd: str) -> bool:
    if spec.endswith(":*"):
        return cmd == spec[:-2] or cmd.startswith(spec[:-2] + " ")
    if "*" not in spec:
        return cmd == spec
    if spec.endswith(" *") and cmd == spec[:-2]:
        return True
    return re.fullmatch(".*".join(re.escape(p) for p in spec.split("*")), cmd, re.DOTALL) is not None


def _cc_simple(perms: dict[str, list[str]], cmd: str) -> str | None:
    for decision in ("deny", "ask", "allow"):
        for rule in perms[decision]:
            m = re.fullmatch(r"Bash\((.*)\)", rule, re.DOTALL)
            assert m, rule
            if _cc_spec_match(m.group(1), cmd.strip()):
                return decision
    return None


def cc_decide(perms: dict[str, list[str]], cmd: str) -> str | None:
    parts = [p for p in re.split(r"\s*(?:&&|\|\||;|\|)\s*", cmd) if p.strip()]
    got = [_cc_simple(perms, p) for p in parts]
    if "deny" in got:
        return "deny"
    if "ask" in got:
        return "ask"
    return "allow" if got and all(g == "allow" for g in got) else None


def test_claude_code_rules_agree_with_the_classifier(exported: Path, clf) -> None:  # noqa: ANN001
    settings = read_json(exported / "enforce" / "claude-code" / "settings.json")
    perms = settings["permissions"]
    assert perms["allow"] and perms["ask"] and perms["deny"]
    checked = 0
    for cmd in _commands(exported):
        got = cc_decide(perms, cmd)
        if got is None:
            continue
        checked += 1
        assert got == clf.classify(cmd).decision, cmd
    assert checked >= 150


# -- Codex -------------------------------------------------------------------------------

def parse_rules(text: str) -> list[dict]:
    """The prefix_rule(...) calls of a .rules file (their arguments are JSON-compatible)."""
    out = []
    for body in re.findall(r"prefix_rule\((.*?)\n\)", text, re.DOTALL):
        args = dict(re.findall(r"^\s+(\w+) = (.*),$", body, re.MULTILINE))
        out.append({k: json.loads(v) for k, v in args.items()})
    return out


def codex_matches(pattern: list, argv: list[str]) -> bool:
    if len(argv) < len(pattern):
        return False
    return all(a in p if isinstance(p, list) else a == p for p, a in zip(pattern, argv))


def codex_decide(rules: list[dict], cmd: str) -> str | None:
    try:
        argv = shlex.split(cmd)
    except ValueError:
        return None
    hits = [CODEX[r["decision"]] for r in rules if codex_matches(r["pattern"], argv)]
    return max(hits, key=RANK.__getitem__) if hits else None


def test_codex_rules_agree_with_the_classifier(exported: Path, clf) -> None:  # noqa: ANN001
    rules = parse_rules((exported / "enforce" / "codex" / "stackpolicy.rules").read_text())
    assert {r["decision"] for r in rules} == {"allow", "prompt", "forbidden"}
    checked = 0
    for cmd in _commands(exported):
        if re.search(r"&&|\|\||;|\|", cmd):
            continue  # Codex splits compound lines itself; each part is a simple command here too
        got = codex_decide(rules, cmd)
        if got is None:
            continue
        checked += 1
        assert got == clf.classify(cmd).decision, cmd
    assert checked >= 150


def test_codex_examples_hold_as_codex_validates_them(exported: Path) -> None:
    rules = parse_rules((exported / "enforce" / "codex" / "stackpolicy.rules").read_text())
    for r in rules:
        assert r["justification"]
        assert all(codex_matches(r["pattern"], m) for m in r["match"]), r
        assert not any(codex_matches(r["pattern"], m) for m in r.get("not_match", [])), r


# -- JSON table and OPA data --------------------------------------------------------------

def table_decide(rules: list[dict], cmd: str) -> str | None:
    try:
        argv = shlex.split(cmd)
    except ValueError:
        return None
    hits = [r["decision"] for r in rules
            if (argv == r["argv"] if r["match"] == "exact" else argv[: len(r["argv"])] == r["argv"])]
    return max(hits, key=RANK.__getitem__) if hits else None


@pytest.mark.parametrize("path", ["json/decisions.json", "opa/data.json"])
def test_tables_agree_with_the_classifier(exported: Path, clf, path: str) -> None:  # noqa: ANN001
    data = read_json(exported / "enforce" / path)
    rules = data["rules"] if "rules" in data else data["stackpolicy_data"]["rules"]
    checked = 0
    for cmd in _commands(exported):
        got = table_decide(rules, cmd)
        if got is None:
            continue
        checked += 1
        assert got == clf.classify(cmd).decision, cmd
    assert checked >= 150


def test_no_allow_rule_matches_a_t3_command_from_the_table(exported: Path) -> None:
    perms = read_json(exported / "enforce" / "claude-code" / "settings.json")["permissions"]
    t3 = [c for c, t in TABLE if t == "T3"]
    for cmd in t3:
        assert cc_decide(perms, cmd) in (None, "deny"), cmd
