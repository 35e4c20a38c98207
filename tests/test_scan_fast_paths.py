"""The cold scan's shortcuts give exactly what the plain code gives (differential tests).

* ``_yaml.iter_scalar_lines`` = ``iter_scalars`` with ``Doc.line_of`` of every path;
* ``load_documents`` reads a file once for all the scanners that want it, and every caller
  still gets its own list and its own warnings;
* ``SourceFile.pure`` made once per file is what a new one is;
* files are asked only of the scanners their name's suffix allows (``Scanner.suffixes``);
* the scrub's per-class model walk judges what the model's dump holds;
* lines parsed ahead in the workers give the actions that parsing them in place gives.

Snippets with the awkward cases (duplicate keys, non-string keys, merge keys, aliases,
paths that leave the node tree), every YAML file of the fixtures and the example, the
benchmark's synthetic estate and (marked ``corpora``) the real repositories.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import pytest

from inventory.model import Evidence
from inventory.scanners._yaml import iter_scalar_lines, iter_scalars, load_documents, parse_documents
from inventory.scanners.base import Fragment, SourceFile
from tests.yaml_support import yaml_files, yaml_texts

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

SNIPPETS = [
    "a: 1\nb: [1, 2.5, true, null, ~, 0x1F]\nc:\n  d:\n    - x\n    - {e: f, g: [h, i]}\n",
    "dup: 1\ndup: 2\nother: {dup: 3, dup: 4}\n",
    "1: int key\n0x10: hex key\ntrue: bool key\nyes: yes key\nnull: null key\n2.5: float\n",
    "base: &b {x: 1, y: [2, 3]}\nderived:\n  <<: *b\n  z: 4\nagain: *b\n",
    "list: &l [a, b, {c: d}]\nuse: *l\n",
    "? [a, b]\n: complex key\nplain: 1\n",
    "s: !!set {a, b}\no: !!omap [a: 1, b: 2]\np: !!pairs [a: 1]\n",
    "env:\n  - name: DB_PASSWORD\n    value: hunter2\n  - name: HOST\n    value: db.internal\n",
    "just a scalar\n",
    "---\na: 1\n---\n- x\n- [y, z]\n---\nkind: List\nitems:\n  - {kind: A, metadata: {name: n}}\n",
    "empty_map: {}\nempty_list: []\nempty:\nnested: {a: {}, b: []}\n",
    "ts:\n  2024-01-01: new year\n",
]


def _check(text: str) -> None:
    docs, _ = parse_documents(text)
    for doc in docs:
        want = [(p, v, doc.line_of(p)) for p, v in iter_scalars(doc.data)]
        assert list(iter_scalar_lines(doc)) == want, text
        if isinstance(doc.data, dict) and isinstance(doc.data.get("items"), list):
            for i in range(len(doc.data["items"])):
                child = doc.child("items", i)
                assert list(iter_scalar_lines(child)) == [(p, v, child.line_of(p)) for p, v in iter_scalars(child.data)]


@pytest.mark.parametrize("text", SNIPPETS)
def test_scalar_lines_match_line_of(text: str) -> None:
    _check(text)


def test_scalar_lines_respect_the_item_limit() -> None:
    doc = parse_documents("a: [1, 2, 3, 4, 5]\nb: {c: 6, d: 7}\n")[0][0]
    for limit in range(12):
        want = [(p, v, doc.line_of(p)) for p, v in iter_scalars(doc.data, max_items=limit)]
        assert list(iter_scalar_lines(doc, max_items=limit)) == want


def _differential(paths: list[Path]) -> None:
    for path, text in yaml_texts(paths):
        _check(text)


def test_fixture_and_example_yaml_scalar_lines() -> None:
    paths = yaml_files(REPO / "tests") + yaml_files(REPO / "examples")
    assert paths
    _differential(paths)


def test_synthetic_estate_scalar_lines() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    files = [t for p, t in synth.generate_files(30, 42).items() if str(p).endswith((".yaml", ".yml"))]
    assert files
    for text in files:
        _check(text)


@pytest.mark.corpora
def test_corpora_scalar_lines() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    _differential(yaml_files(CORPORA))


def test_a_file_is_parsed_once_for_every_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory.scanners import _yaml

    calls: list[str] = []
    real = _yaml.parse_documents
    monkeypatch.setattr(_yaml, "parse_documents", lambda text, limits=_yaml.DEFAULT_LIMITS: calls.append(text) or real(text, limits))
    src = SourceFile(path="a.yaml", text="a: 1\n---\nb: [\n")
    first, second = Fragment(path="a.yaml", scanner="one"), Fragment(path="a.yaml", scanner="two")
    docs1 = load_documents(src, first)
    docs1.clear()  # a caller's list is its own
    docs2 = load_documents(src, second)
    assert len(calls) == 1
    assert [d.data for d in docs2] == [{"a": 1}]
    # Each scanner's fragment gets the file's problems.
    assert [w.message for w in first.warnings] == [w.message for w in second.warnings] != []
    assert [w.scanner for w in second.warnings] == ["two"]
    # Other limits, or a plain text, are read again.
    load_documents(src, None, _yaml.Limits(max_depth=3))
    load_documents(src.text)
    assert len(calls) == 3


def test_source_file_pure_is_what_a_new_one_is() -> None:
    src = SourceFile(path="a/b/c.yaml", text="")
    assert src.pure == PurePosixPath("a/b/c.yaml") and src.pure is src.pure
    assert src.evidence(0) == src.evidence(-5) == Evidence(path="a/b/c.yaml", line=1)
    src.path = "x.yaml"  # a renamed file gets a path of its new name
    assert src.pure == PurePosixPath("x.yaml")
    assert src.evidence(3) == Evidence(path="x.yaml", line=3)


def test_scrub_walk_judges_what_the_dump_holds_on_the_synthetic_estate(tmp_path: Path) -> None:
    """``_judged_strings`` (walked by per-class plans) against the JSON dump of a real inventory."""
    from inventory.config import Config
    from inventory.scan import scan_paths
    from inventory.secrets import _is_loose_secret_key, _judged_strings, _keyed_strings, is_secret_key

    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    synth.write_tree(synth.generate_files(12, 7), tmp_path / "estate")
    inv, _ = scan_paths([tmp_path / "estate"], Config(), use_cache=False, jobs=1)
    assert inv.actions and inv.components
    pairs = _keyed_strings(inv.model_dump_json())
    secretish = lambda k: k is not None and (is_secret_key(k) or _is_loose_secret_key(k))  # noqa: E731
    free, keyed = _judged_strings(inv)
    assert keyed == {(k, v) for k, v in pairs if secretish(k)}
    dumped = {v for k, v in pairs if not secretish(k)}
    assert dumped <= free
    # Nothing but the dump's strings and the models' field names.
    from inventory import model

    names = {f for cls in vars(model).values() if isinstance(cls, type) and hasattr(cls, "model_fields")
             for f in cls.model_fields}
    assert free - dumped <= names


def test_actions_from_lines_parsed_in_workers_are_those_parsed_here() -> None:
    """Workers parse each sighted line (and its ``<placeholder>`` reading) ahead; the actions
    built from those readings are exactly the ones built by parsing every line in place."""
    from inventory.actions import actions_from_commands, parse_sightings
    from inventory.builder import InventoryBuilder
    from inventory.config import Config
    from inventory.model import Evidence
    from inventory.scanners.base import CommandSighting

    lines = ["kubectl -n orders-prod delete pod <pod-name>", "kubectl -n orders-prod delete pod <pod-name>",
             "kubectl rollout restart deploy/orders-api -n orders-prod", "psql -h <host> -U app -c 'drop table x'",
             "oc project payments-stg", "kubectl get pods", "./scripts/failover.sh prod",
             "kubectl rollout restart deploy/a deploy/b --context prod-east", "ssh db1.gprd.example.net",
             "sudo systemctl restart patroni", "curl -H 'X-Token: REDACTED' https://api.prod.example.com/v1 --retry 3"]
    sightings = [CommandSighting(command=c, evidence=Evidence(path="docs/runbook.md", line=i + 1))
                 for i, c in enumerate(lines)]

    def actions(parsed: dict[str, bytes] | None) -> list[dict]:
        builder = InventoryBuilder()
        builder.commands.extend(sightings)
        actions_from_commands(builder, Config(), parsed)
        return [a.model_dump() for a in builder.build().actions]

    parsed = parse_sightings(s.command for s in sightings)
    assert "kubectl -n orders-prod delete pod __placeholder__" in parsed  # the naming reading
    assert actions(parsed) == actions(None) != []
    # With what the workers derive of each command (the actions step then works none of it out).
    derived = parse_sightings((s.command for s in sightings), cfg=Config())
    assert derived.keys() == parsed.keys() and derived != parsed
    assert actions(derived) == actions(None)


def test_the_actions_steps_give_the_text_of_each_action_they_add() -> None:
    """What the scrub's helper is sent ahead (``made``): the id and command of each action the
    commands step adds, and the id, command and description of each the implied step adds;
    nothing for a sighting merged into an action that exists already."""
    from inventory.actions import actions_from_commands, add_implied_actions
    from inventory.builder import InventoryBuilder
    from inventory.config import Config
    from inventory.model import Component, Evidence
    from inventory.scanners.base import CommandSighting

    builder = InventoryBuilder()
    ev = Evidence(path="k8s/orders.yaml", line=1)
    builder.add_entity(Component(id="service:orders-api", kind="service", name="orders-api", evidence=[ev],
                                    attributes={"k8s_kind": "Deployment"}))
    lines = ["kubectl rollout restart deploy/orders-api", "kubectl rollout restart deploy/orders-api",
             "psql -h db -c 'drop table x'"]
    builder.commands.extend(CommandSighting(command=c, evidence=Evidence(path="docs/runbook.md", line=i + 1))
                            for i, c in enumerate(lines))
    made: list[str] = []
    actions_from_commands(builder, Config(), None, made)
    by_command = list(builder.actions.values())
    assert made == [x for a in by_command for x in (a.id, a.command)] and len(by_command) == 2
    implied: list[str] = []
    add_implied_actions(builder, Config(), implied)
    added = list(builder.actions.values())[len(by_command):]
    assert added and implied == [x for a in added for x in (a.id, a.command, a.description or "")]


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _same_matches(root: Path, paths: list[Path]) -> None:
    from inventory.scanners import Matcher, all_scanners

    scanners = all_scanners()
    matcher = Matcher(scanners)
    for path in paths:
        try:
            head = path.read_bytes()[:4096].decode("utf-8")[:2048]
        except (UnicodeDecodeError, OSError):
            head = ""
        pure = PurePosixPath(path.relative_to(root).as_posix())
        assert matcher.names(pure, head) == [s.name for s in scanners if s.matches(pure, head)], pure
        assert matcher.any(pure, "") == any(s.matches(pure, "") for s in scanners), pure


# Names that sit at the edges of the scanners' patterns: case, dotfiles, double suffixes.
ODD_NAMES = ["Chart.yaml", "CHART.YAML", "values.yaml", "values-prod.YML", "values.yaml.bak", ".yaml", "x.yml",
             "Kustomization", "KUSTOMIZATION.YAML", "kustomization.yml", "CODEOWNERS", "codeowners", "x-codeowners",
             "docker-compose.override.yml", "Compose.YAML", "compose.yaml\n", "README.md", "readme.RST", "README",
             "runbook.MDX", "notes.markdown", "main.tf", "x.TF", "a.tf.json", "b.tfvars.json", "prod.tfvars",
             "Makefile", "GNUmakefile", "rules.mk", "deploy.sh", "x.ZSH", "script", ".env", ".env.prod",
             "app.env", "app.properties", ".envrc", "helmfile.yaml.gotmpl", "openapi.json", "swagger.JSON", "x.txt"]
ODD_HEADS = ["", "#!/bin/bash\necho hi\n", "apiVersion: v1\nkind: Pod\n", "openapi: 3.0.0\n",
             "apiVersion: backstage.io/v1alpha1\nkind: Component\n", "services:\n  - name: x\n", "{{ if }}\nkind: x\n"]


def test_matcher_asks_only_what_could_match_on_odd_names() -> None:
    from inventory.scanners import Matcher, all_scanners

    scanners = all_scanners()
    matcher = Matcher(scanners)
    for name in ODD_NAMES:
        for folder in ("", "a/", ".github/workflows/", "chart/templates/", "helmfile.d/", "envs/prod/"):
            pure = PurePosixPath(folder + name)
            for head in ODD_HEADS:
                assert matcher.names(pure, head) == [s.name for s in scanners if s.matches(pure, head)], (pure, head)


def test_matcher_on_fixture_and_example_files() -> None:
    for root in (REPO / "tests" / "fixtures", REPO / "examples"):
        _same_matches(root, _all_files(root))


def test_matcher_on_the_synthetic_estate(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    synth.write_tree(synth.generate_files(12, 3), tmp_path)
    _same_matches(tmp_path, _all_files(tmp_path))


@pytest.mark.corpora
def test_matcher_on_corpora() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available: {CORPORA}")
    _same_matches(CORPORA, _all_files(CORPORA))


@pytest.mark.parametrize("host,label", [
    ("10.0.0.7", None), ("[::1]", None), ("fe80::1%eth0", None), ("2001:db8::5", None), ("127.0.0.1", None),
    ("10.0.0.256", None), ("1.2.3", None), ("orders-db.data.svc.cluster.local", "orders-db"),
    ("ledger-pg.db.internal", "ledger-pg"), ("db1", "db1"), ("localhost", None), ("true", None),
])
def test_first_label_skips_addresses_without_parsing_every_name(host: str, label: str | None) -> None:
    """Only digit-and-dot or colon texts go to the address parser; the labels are as before."""
    from inventory.references import _first_label

    assert _first_label(host) == label


def test_head_words_checked_first_decide_as_the_patterns_alone(tmp_path: Path) -> None:
    """openapi and service-catalog test a word before their head pattern: same answers."""
    from inventory.scanners import catalog, openapi

    sys.path.insert(0, str(REPO / "bench"))
    import synth  # noqa: PLC0415

    heads = [t[:2048] for p, t in synth.generate_files(12, 5).items() if str(p).endswith((".yaml", ".yml"))]
    heads += [p.read_text(encoding="utf-8", errors="replace")[:2048] for p in yaml_files(REPO / "tests" / "fixtures")]
    heads += ["openapi: 3.0.0\n", "  'swagger' : '2.0'\n", "x: 1\nservices:  # the list\n", "services:\n", "Services:\n"]
    o, c = openapi.OpenApiScanner(), catalog.ServiceCatalogScanner()
    for head in heads:
        assert o.matches(PurePosixPath("a/api.yaml"), head) == bool(openapi._HEAD_RE.search(head))
        plain = "apiVersion:" not in head
        assert c.matches(PurePosixPath("a/list.yaml"), head) == (plain and bool(catalog._HEAD_RE.search(head)))
