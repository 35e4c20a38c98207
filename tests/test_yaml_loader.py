"""The shared YAML loader: documents, line numbers, and hostile input that must not hurt."""

from __future__ import annotations

from inventory.scanners._yaml import Limits, iter_scalars, load_documents, parse_documents
from inventory.scanners.base import Fragment, SourceFile

MULTI = """\
# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: acme-prod
---
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: orders
  name: orders
spec:
  template:
    spec:
      containers:
        - name: app
          image: acme/orders:1.2
          env:
            - name: DB_HOST
              value: orders-db
"""


def test_multi_document_data_and_start_lines() -> None:
    docs, problems = parse_documents(MULTI)
    assert problems == []
    assert [d.data["kind"] for d in docs] == ["Namespace", "Deployment"]
    assert [d.line for d in docs] == [2, 8]
    # The empty document between the two `---` still counts in the index.
    assert [d.index for d in docs] == [0, 2]


def test_line_of_points_at_keys_and_list_items() -> None:
    docs, _ = parse_documents(MULTI)
    dep = docs[1]
    assert dep.line_of(("kind",)) == 9
    assert dep.line_of(("metadata", "name")) == 13
    env_path = ("spec", "template", "spec", "containers", 0, "env", 0, "value")
    assert dep.line_of(env_path) == 22
    assert dep.get(*env_path) == "orders-db"
    assert dep.line_of(("spec", "template", "spec", "containers", 0)) == 18


def test_line_of_missing_path_falls_back_to_deepest_ancestor() -> None:
    docs, _ = parse_documents(MULTI)
    dep = docs[1]
    assert dep.line_of(("metadata", "namespace")) == 10  # the `metadata:` line
    assert dep.line_of(("nope",)) == dep.line
    assert dep.line_of(("spec", "template", "spec", "containers", 7)) == 17
    assert dep.get("spec", "replicas", default=1) == 1


def test_malformed_yaml_is_a_problem_with_a_line_and_earlier_docs_survive() -> None:
    text = "kind: A\n---\nkind: B\n  bad: [unclosed\nfoo: bar\n"
    docs, problems = parse_documents(text)
    assert [d.data for d in docs] == [{"kind": "A"}]
    assert len(problems) == 1
    assert problems[0].line in (3, 4, 5)
    assert problems[0].message.startswith("invalid YAML")


def test_load_documents_records_warnings_on_fragment() -> None:
    src = SourceFile(path="k8s/bad.yaml", text="a: 1\nb: [\n")
    frag = Fragment(path=src.path, scanner="kubernetes")
    # A syntax error inside the first document loses that document (no partial data).
    assert load_documents(src, frag) == []
    assert len(frag.warnings) == 1
    w = frag.warnings[0]
    assert (w.path, w.scanner) == ("k8s/bad.yaml", "kubernetes")
    assert w.line >= 2


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = ",".join([f"*a{i-1}"] * 9)
        lines.append(f"a{i}: &a{i} [{prev}]")
    docs, problems = parse_documents("\n".join(lines) + "\n")
    assert docs == []
    assert "alias bomb" in problems[0].message


def test_recursive_alias_is_refused() -> None:
    docs, problems = parse_documents("a: &x\n  - *x\n")
    assert docs == []
    assert "recursive alias" in problems[0].message


def test_ordinary_anchors_still_load() -> None:
    text = "base: &b {image: redis:7}\nsvc:\n  <<: *b\n  replicas: 2\n"
    docs, problems = parse_documents(text)
    assert problems == []
    assert docs[0].data["svc"] == {"image": "redis:7", "replicas": 2}


def test_deep_nesting_is_refused_not_crashing() -> None:
    depth = 500
    docs, problems = parse_documents("[" * depth + "]" * depth)
    assert docs == []
    assert "nested deeper" in problems[0].message
    # libyaml's own limit (1000) also becomes a problem, not an exception.
    docs, problems = parse_documents("[" * 5000 + "]" * 5000)
    assert docs == [] and problems


def test_limits_are_configurable() -> None:
    docs, problems = parse_documents("a: [[[1]]]\n", Limits(max_depth=3))
    assert docs == [] and "deeper than 3" in problems[0].message


def test_constructor_errors_become_problems() -> None:
    docs, problems = parse_documents("ok: 1\n---\n? [a, b]\n: unhashable-key-is-fine-in-seq\n---\nx: !!python/object:os.system {}\n")
    assert docs[0].data == {"ok": 1}
    assert problems, "unsafe tags and unhashable keys must be refused as problems"


def test_iter_scalars_walks_iteratively_with_paths() -> None:
    data = {"a": {"b": [1, {"c": "x"}]}, "d": None}
    assert list(iter_scalars(data)) == [(("a", "b", 0), 1), (("a", "b", 1, "c"), "x"), (("d",), None)]
