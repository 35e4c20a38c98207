"""The resolve stage: environments from explicit signals only, each with evidence and `how`;
unresolved entities count as production and the estate gets one question."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.risk.assess import assess_inventory
from inventory.config import Config
from inventory.environments import canonical_environment, environment_of_path
from inventory.model import Inventory
from inventory.resolve import all_resolvers
from inventory.scan import scan_paths

FIX = Path(__file__).parent / "fixtures" / "estate"


def _scan(name: str, cfg: Config | None = None) -> Inventory:
    inv, _ = scan_paths([FIX / name], cfg, use_cache=False, jobs=1)
    return inv


def _ents(inv: Inventory) -> dict:
    return {e.id: e for e in (*inv.components, *inv.resources)}


def test_resolvers_are_discovered_one_per_signal_kind() -> None:
    names = [r.name for r in all_resolvers()]
    assert {"in-file", "environment-directory", "compose-local-development", "stackpolicy.yaml"} <= set(names)
    assert len(names) == len(set(names))


def test_only_directories_named_for_an_environment_count() -> None:
    assert environment_of_path("infra/envs/nonproduction/main.tf") == ("nonproduction", "infra/envs/nonproduction")
    assert environment_of_path("apps/production/kustomization.yaml") == ("prod", "apps/production")
    assert environment_of_path("clusters/staging/apps.yaml") == ("staging", "clusters/staging")
    assert environment_of_path("docs/ci-runners/README.md") is None  # a word inside a name
    assert environment_of_path("clusters/eu-west/apps.yaml") is None  # a cluster is not an environment
    assert environment_of_path("ci/pipeline.yaml") is None
    assert canonical_environment("production") == "prod" and canonical_environment("product-api") is None


def test_per_environment_roots_give_environments_with_how_and_evidence() -> None:
    ents = _ents(_scan("envroots"))
    prod_q, nonprod_q = ents["queue:jobs-production"], ents["queue:jobs-nonproduction"]
    assert prod_q.environments == ["prod"]
    assert nonprod_q.environments == ["nonproduction"]  # the name the estate uses, not a guess
    src = prod_q.environment_sources[0]
    assert src.environment == "prod" and "envs/production" in src.how
    assert str(src.evidence[0]) == "infra/envs/production/main.tf:1"
    web = ents["service:web"]
    assert web.environments == ["staging"] and "apps/staging" in web.environment_sources[0].how


def test_runbook_folders_and_prose_name_no_environment() -> None:
    inv = _scan("envroots")
    rm = [a for a in inv.actions if a.tool == "docker-machine"]
    assert rm, "the runbook command is still an action"
    assert all(a.environment is None for a in rm)  # docs/ci-runners/ is not environment "test"
    assessed = assess_inventory(inv)
    assert all(assessed[a.id].environment in ("unknown", "prod") for a in rm)


def test_compose_without_a_dev_signal_is_a_deployment_with_stateful_volumes() -> None:
    inv = _scan("compose-deploy")
    ents = _ents(inv)
    assert "dev" not in {env for e in ents.values() for env in e.environments}
    assert ents["volume:appdata"].stateful is True and ents["volume:dbdata"].stateful is True
    edges = {(e.source, e.target, e.kind) for e in inv.edges}
    assert ("postgres:db", "volume:dbdata", "writes") in edges
    assert inv.unresolved is not None and "volume:dbdata" in inv.unresolved.entities


def test_compose_is_dev_when_the_readme_says_local_development() -> None:
    ents = _ents(_scan("compose-dev-readme"))
    api = ents["service:api"]
    assert api.environments == ["dev"]
    src = api.environment_sources[0]
    assert src.resolver == "compose-local-development" and "README.md" in src.how
    assert any(str(ev) == "README.md:3" for ev in src.evidence)


def test_compose_dev_file_name_and_dev_server_mount() -> None:
    web = _ents(_scan("compose-dev-file"))["service:web"]
    assert web.environments == ["dev"]
    assert "docker-compose.dev.yml" in web.environment_sources[0].how


def test_unresolved_counts_as_production_and_the_estate_gets_one_question() -> None:
    inv = _scan("unresolved")
    ents = _ents(inv)
    assert ents["service:billing"].environments == [] and ents["service:billing"].environment_sources == []
    assert ents["service:ledger"].environments == ["prod"]
    assert ents["service:ledger"].environment_sources[0].how == "namespace acme-prod"
    q = inv.unresolved
    assert q is not None
    assert "service:billing" in q.entities and "service:ledger" not in q.entities
    assert q.environments_found == ["prod"]
    assert any("in-file" in s for s in q.signals_seen)
    assert "environment_paths:" in q.settle and any("service:billing" in line or "k8s/**" in line for line in q.settle)
    # Unresolved is never "stated", and gets production's tier.
    assessed = assess_inventory(inv)
    restart = assessed["service:billing/restart"]
    prod = assessed["service:ledger/restart"]
    assert restart.environment == "unknown" and restart.tier == prod.tier


def test_stackpolicy_yaml_environment_paths_settle_the_question() -> None:
    inv = _scan("unresolved", Config(environment_paths={"k8s/**": "staging"}))
    billing = _ents(inv)["service:billing"]
    assert "staging" in billing.environments
    assert billing.environment_sources[0].resolver == "stackpolicy.yaml"
    assert inv.unresolved is None


def test_resolution_is_deterministic() -> None:
    a = _scan("envroots").model_dump_json()
    b = _scan("envroots").model_dump_json()
    assert a == b


def test_a_devcontainer_compose_file_is_local_development(tmp_path: Path) -> None:
    d = tmp_path / ".devcontainer"
    d.mkdir()
    (d / "docker-compose.yml").write_text("services:\n  api:\n    build: ..\n  db:\n    image: postgres:16\n")
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert all(e.environments == ["dev"] for e in (*inv.components, *inv.resources))


def test_a_scanners_fragments_keep_the_order_of_all_fragments() -> None:
    from inventory.builder import InventoryBuilder
    from inventory.resolve import ResolveContext
    from inventory.scanners.base import Fragment

    frags = [Fragment(path=p, scanner=s) for p, s in
             [("b.tf", "terraform"), ("a.yaml", "kubernetes"), ("a.tf", "terraform"), ("c.tf", "terraform")]]
    ctx = ResolveContext(builder=InventoryBuilder(), fragments=frags, config=Config())
    assert ctx.of_scanner("terraform") == [frags[0], frags[2], frags[3]]
    assert ctx.of_scanner("kubernetes") == [frags[1]] and ctx.of_scanner("readme") == []
    ctx.of_scanner("terraform").clear()  # each caller gets its own list
    assert len(ctx.of_scanner("terraform")) == 3


def _merged(root: Path) -> tuple:
    """A builder merged from every fragment of ``root`` (as the build merges them), and the fragments."""
    import inventory.scan as scan_mod
    from inventory.builder import InventoryBuilder
    from inventory.scanners import all_scanners
    from inventory.units import separate_same_named

    cfg = Config()
    jobs = [(job.path, job.relpath) for job in scan_mod.iter_files([root], cfg, scan_mod.ScanStats())]
    records, _ = scan_mod._read_and_scan(jobs, cfg.model_dump_json(), False)
    frags = separate_same_named([f for rec in records if rec[7] is not None
                                 for f in scan_mod._FRAGMENT_STORE.load_many(rec[7])], cfg)
    builder = InventoryBuilder(sources=[str(root)])
    scan_mod._merge_into(builder, frags, all_scanners(), True, [])
    return builder, frags


def _placements(builder) -> dict:  # type: ignore[no-untyped-def]
    return {e.id: [s.model_dump() for s in e.environment_sources]
            for e in (*builder.components.values(), *builder.resources.values())}


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-platform"


@pytest.mark.parametrize("root", [EXAMPLE, FIX / "argocd", FIX / "flux", FIX / "compose-dev-readme", FIX / "envroots"],
                         ids=lambda p: p.name)
def test_the_resolvers_that_read_no_command_run_first_and_the_rest_after_give_the_same(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory.resolve import resolve_before_commands, resolve_environments

    whole, frags = _merged(root)
    resolve_environments(whole, frags, Config())
    split, frags2 = _merged(root)
    ran: list[str] = []
    for cls in {type(r) for r in all_resolvers()}:
        monkeypatch.setattr(cls, "resolve", lambda self, ctx, _f=cls.resolve: ran.append(self.name) or _f(self, ctx))
    done = resolve_before_commands(split, frags2, Config())
    names = [r.name for r in all_resolvers()]
    assert ran == names[:done.count] == ["in-file", "environment-directory", "argocd", "flux", "compose-local-development"]
    assert all_resolvers()[done.count].reads_commands
    resolve_environments(split, frags2, Config(), done=done)
    assert ran == names  # each once, in order
    assert _placements(split) == _placements(whole)
    assert any(_placements(whole).values())


def test_only_the_leading_resolvers_that_read_no_command_run_early(monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory.resolve import resolve_before_commands
    from inventory.resolve.paths import PathResolver

    builder, frags = _merged(EXAMPLE)
    monkeypatch.setattr(PathResolver, "reads_commands", True)  # the second in run order
    assert resolve_before_commands(builder, frags, Config()).count == 1  # the first only: order is kept
