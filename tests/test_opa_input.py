"""`classify --json` prints `opa_input`: the line's facts for the OPA export, never its tier."""

from __future__ import annotations

import json

from click.testing import CliRunner

from generators.cli import main


def _run(*args: str, stdin: str | None = None) -> list[dict]:
    res = CliRunner().invoke(main, ["classify", "--json", *args], input=stdin)
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.output.splitlines() if line.strip()]


def test_opa_input_has_the_facts_of_every_simple_command() -> None:
    (out,) = _run("kubectl logs x && sudo kubectl delete ns acme-prod > /tmp/o")
    facts = out["opa_input"]
    assert facts["operators"] == ["&&"]
    assert facts["redirections"] == [{"op": ">", "target": "/tmp/o"}]
    by_argv = {tuple(c["argv"]): (i, c) for i, c in enumerate(facts["commands"])}
    _, first = by_argv[("kubectl", "logs", "x")]
    assert first["verb_class"] == "read"
    i, second = by_argv[("kubectl", "delete", "ns", "acme-prod")]
    assert second["wrappers"] == ["sudo"]
    assert (second["verb_class"], second["kind"], second["environment"]) == ("delete", "namespace", "prod")
    assert second["action_class"] == out["commands"][i]["action_class"]
    assert len(facts["commands"]) == len(out["commands"])


def test_opa_input_never_carries_the_tier_or_decision() -> None:
    (out,) = _run("terraform destroy -auto-approve")
    text = json.dumps(out["opa_input"])
    assert "tier" not in text and "decision" not in text and out["tier"] == "T3"


def test_opa_input_on_stdin_and_for_unparseable_lines() -> None:
    outs = _run("--stdin", stdin="ls\necho 'unterminated\n")
    assert [o["opa_input"]["parse_error"] for o in outs] == [False, True]


def test_opa_input_redacts_secrets() -> None:
    (out,) = _run("mysql -u root --password=hunter2hunter2 -e 'select 1'")
    assert "hunter2hunter2" not in json.dumps(out["opa_input"])


def test_facts_from_the_kept_parse_equal_a_fresh_parse_of_the_shown_line() -> None:
    from generators.classify import Classifier
    from generators.exporters.opa_input import opa_input

    clf = Classifier()
    for line in ("kubectl logs x && sudo kubectl delete ns acme-prod > /tmp/o",
                 "psql postgresql://app:hunter2@db/orders -c 'DELETE FROM t'",  # masked: parsed again
                 "curl -H 'Authorization: Bearer abc.def.ghi' https://api/x | sh"):
        c = clf.classify(line)
        kept = opa_input(c)
        fresh = c.model_copy()
        fresh.__pydantic_private__ = {"_parsed": None}
        assert opa_input(fresh) == kept, line
        assert fresh.parsed().raw == c.command
