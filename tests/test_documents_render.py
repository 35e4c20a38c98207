"""Markdown and YAML rendering of both documents."""

from __future__ import annotations

import re

import yaml

from generators.documents.rowids import expand_class_row
from generators.documents.render import EvidenceLinker, code, escape_cell, fenced, mermaid
from generators.pipeline import draft_documents, render_documents
from inventory.config import Config
from inventory.model import Evidence
from tests.factories import make_assessments, make_inventory


def _texts(out_dir: str = "output") -> dict[str, str]:
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    return render_documents(policy, evals, out_dir, inv)


def test_rendering_is_byte_identical_across_runs() -> None:
    assert _texts() == _texts()


def test_front_matter_fields() -> None:
    for name in ("policy.md", "evals.md"):
        text = _texts()[name]
        assert text.startswith("---\n")
        meta = yaml.safe_load(text.split("---\n")[1])
        assert meta["status"] == "draft" and meta["reviewers"] == [] and meta["provider"] == "offline"
        assert meta["generator_version"] == "0.1.0"
        assert meta["inventory_digest"] == make_inventory().digest()


def test_yaml_is_the_same_content_as_the_markdown() -> None:
    texts = _texts()
    pol = yaml.safe_load(texts["policy.yaml"])
    assert pol["kind"] == "policy" and pol["meta"]["status"] == "draft"
    # Every class is in the markdown (alone or in a row across environments); every action is
    # an instance of one of them, listed per system in the YAML only.
    md = texts["policy.md"]
    shown = {cid for rid in re.findall(r"^\| `([^`]+)` \| \*\*T\d", md, re.M) if "!" not in rid
             for cid in expand_class_row(rid)}
    assert shown == {c["id"] for c in pol["table"]["classes"]}
    instances = {i["action"] for c in pol["table"]["classes"] for i in c["instances"]}
    assert instances == {a["id"] for s in pol["systems"] for a in s["actions"]}
    assert all(f"`{a['id']}`" not in md for s in pol["systems"] for a in s["actions"])
    ev = yaml.safe_load(texts["evals.yaml"])
    assert [c["id"] for c in ev["cases"]] == re.findall(r"^### `([^`]+)`", texts["evals.md"], re.M)


def test_tables_escape_pipes_and_every_row_has_the_header_width() -> None:
    md = _texts()["policy.md"]
    # The factory's command contains a pipe: escaped inside the cell's code span.
    assert "helm plugin run cleanup \\| tee out.txt`" in md
    for block in re.findall(r"(?:^\|.*\n)+", md, re.M):
        rows = block.strip("\n").split("\n")
        width = len(re.split(r"(?<!\\)\|", rows[0]))
        assert all(len(re.split(r"(?<!\\)\|", r)) == width for r in rows), rows[0]


def test_mermaid_block_with_a_class_per_tier() -> None:
    md = _texts()["policy.md"]
    block = re.search(r"```mermaid\n(.*?)```", md, re.S)
    assert block
    body = block.group(1)
    for t in ("t0", "t1", "t2", "t3"):
        assert f"classDef {t} " in body
    assert re.search(r"class [s0-9,]*\bs1\b[s0-9,]* t3", body)  # the Kafka cluster (events) is T3
    assert "unresolved" not in body


def test_mermaid_edges_follow_dependencies() -> None:
    inv = make_inventory()
    policy, _ = draft_documents(inv, make_assessments(inv), Config())
    body = mermaid(policy.systems)
    ids = {m.group(2): m.group(1) for m in re.finditer(r'^  (s\d+)\["([^<]+)<br/>', body, re.M)}
    assert f"  {ids['orders-api']} --> {ids['orders-db']}" in body
    assert f"  {ids['orders-api']} --> {ids['events']}" in body


def test_evidence_links_are_relative_to_the_output_directory(tmp_path) -> None:
    src = tmp_path / "repo"
    (src / "runbooks").mkdir(parents=True)
    linker = EvidenceLinker([str(src)], tmp_path / "out")
    assert linker.link(Evidence(path="runbooks/x.md", line=12)) == "[runbooks/x.md:12](../repo/runbooks/x.md#L12)"
    multi = EvidenceLinker([str(src), str(tmp_path / "other")], tmp_path / "docs" / "out")
    assert multi.url(Evidence(path="other/a.yaml", line=3)) == "../../other/a.yaml#L3"
    assert multi.link(Evidence(path="elsewhere/a.yaml", line=3)) == "`elsewhere/a.yaml:3`"
    md = _texts("output")["policy.md"]
    assert "[runbooks/kafka-maintenance.md:31](../examples/acme-platform/runbooks/kafka-maintenance.md#L31)" in md


def test_inline_code_and_fences_survive_backticks() -> None:
    # CommonMark strips one space each side when both are present.
    assert code("echo `date`") == "`` echo `date` ``"
    assert code("plain") == "`plain`"
    assert fenced("a\n```\nb").startswith("````text\n")
    assert escape_cell("a|b\nc") == "a\\|b<br>c"


def test_document_yaml_round_trips_and_matches_the_pure_python_emitter() -> None:
    import yaml

    from inventory import io

    class _Pure(yaml.SafeDumper):
        def ignore_aliases(self, data):  # noqa: ARG002
            return True

    _Pure.add_representer(str, io._str_presenter)
    inv = make_inventory()
    policy, evals = draft_documents(inv, make_assessments(inv), Config())
    tricky = {"multi": "line one\nline two\n", "unicode": "naïve – “quotes”", "colon": "a: b", "empty": "",
              "long": "x " * 80, "list": ["- dash", "#hash", "yes", "0123"]}
    for data in (policy.model_dump(mode="json", exclude_none=True),
                 evals.model_dump(mode="json", exclude_none=True), tricky):
        text = io.dump_yaml(data)
        assert yaml.safe_load(text) == data
        # Same bytes whether or not this machine's PyYAML has libyaml.
        assert text == yaml.dump(data, Dumper=_Pure, sort_keys=False, allow_unicode=True, width=100,
                                 default_flow_style=False)
