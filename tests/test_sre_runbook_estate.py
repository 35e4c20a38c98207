"""A runbook-heavy SRE estate (fixture: tests/fixtures/estate/sre-runbooks): runbooks with
`gcloud --project`, `kubectl --context/-n`, ssh to `*.gprd.*` hosts, `knife`, GitLab Omnibus
tools and console sessions, plus a `services/service-catalog.yml` whose `services:` list
starts after long `tiers:`/`teams:` sections.

What every runbook command names must resolve it to a system; what names nothing stays
unresolved (and is counted as such)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from inventory.commands.shell import parse_line
from inventory.model import Inventory
from inventory.scan import scan_paths

FIX = Path(__file__).parent / "fixtures" / "estate" / "sre-runbooks"


@lru_cache(maxsize=1)
def _inventory() -> Inventory:
    inv, _ = scan_paths([FIX], use_cache=False, jobs=1)
    return inv


def _sightings(inv: Inventory) -> dict[tuple[str, int, str], set[str | None]]:
    """Each runbook command sighting → the targets of the actions citing it."""
    out: dict[tuple[str, int, str], set[str | None]] = {}
    for act in inv.actions:
        if act.origin != "command":
            continue
        for ref in act.commands:
            if ref.evidence.path.endswith(".md"):
                out.setdefault((ref.evidence.path, ref.evidence.line, ref.command), set()).add(act.target)
    return out


def _target_of(inv: Inventory, command: str) -> set[str | None]:
    found = {k: v for k, v in _sightings(inv).items() if k[2] == command}
    assert found, f"no sighting of {command!r}"
    return set().union(*found.values())


def test_unresolved_runbook_commands_at_most_a_fifth():
    sightings = _sightings(_inventory())
    assert len(sightings) >= 90  # the fixture is runbook-heavy
    unresolved = sorted(k for k, targets in sightings.items() if not any(targets))
    assert len(unresolved) / len(sightings) <= 0.20, unresolved


def test_catalog_gives_systems_with_owners():
    inv = _inventory()
    catalog = [e for e in (*inv.components, *inv.resources) if e.subtype == "service-catalog"]
    assert len(catalog) >= 40
    assert all(e.owners for e in catalog)
    web = next(e for e in catalog if e.name == "web")
    assert web.owners == ["sre_reliability"]
    # Teams and tiers are sections of the file, not services.
    assert not any(e.name in ("sre_reliability", "sv", "db") for e in catalog)


def test_catalog_dependencies_are_edges():
    inv = _inventory()
    edges = {(e.source, e.target) for e in inv.edges}
    assert ("service:api", "service:gitaly") in edges


def test_knife_query_names_the_chef_role_and_its_environment():
    inv = _inventory()
    targets = _target_of(inv, "knife ssh -C 10 'roles:gprd-base-db-patroni-main' 'sudo gitlab-patronictl list'")
    assert "other:gprd-base-db-patroni-main" in targets
    role = next(e for e in inv.resources if e.id == "other:gprd-base-db-patroni-main")
    assert role.subtype == "chef-role"
    assert _target_of(inv, "knife role show gprd-base-fe-web") == {"other:gprd-base-fe-web"}


def test_gcloud_names_the_cluster_and_instance_before_the_project():
    inv = _inventory()
    assert _target_of(inv, "gcloud container clusters get-credentials gprd-gitlab-gke --region us-east1 "
                           "--project gitlab-production") == {"k8s-cluster:gprd-gitlab-gke"}
    cmd = ("gcloud --project gitlab-production compute instances delete "
           "gke-gprd-gitlab-gke-default-3d1a0f7c-x8kd --zone us-east1-b")
    assert _target_of(inv, cmd) == {"other:gke-gprd-gitlab-gke-default-3d1a0f7c-x8kd"}
    # A listing names only the project.
    assert _target_of(inv, "gcloud compute instances list --project gitlab-production "
                           "--filter 'name~gke-gprd-gitlab-gke'") == {"other:gitlab-production"}


def test_context_switch_and_gke_context_names_are_clusters():
    inv = _inventory()
    ctx = "gke_gitlab-staging-1_us-east1_gstg-gitlab-gke"
    assert _target_of(inv, f"kubectl config use-context {ctx}") == {f"k8s-cluster:{ctx}"}
    prod = "gke_gitlab-production_us-east1_gprd-gitlab-gke"
    assert _target_of(inv, f"kubectl --context {prod} get nodes") == {f"k8s-cluster:{prod}"}


def test_namespace_value_is_not_read_as_an_object_name():
    inv = _inventory()
    # `-n gitlab` names the namespace; the deployment is what the command describes.
    assert _target_of(inv, "kubectl -n gitlab describe deployment gitlab-kas") == {"service:gitlab-kas"}


def test_omnibus_tools_operate_their_system():
    inv = _inventory()
    assert _target_of(inv, "sudo gitlab-rake cache:clear") == {"service:gitlab-rails"}
    assert _target_of(inv, "sudo gitlab-ctl restart gitaly") == {"service:gitaly"}  # the catalog's


def test_helm_version_option_is_not_a_version_request():
    pc = parse_line("helm install tutorial bitnami/kube-prometheus --version 8.2.2 --wait").commands[0]
    assert (pc.verb, pc.target, pc.flags.get("chart")) == ("install", "tutorial", "bitnami/kube-prometheus")
    assert parse_line("helm --version").commands[0].verb == "help"


def test_a_new_pods_command_names_nothing_of_the_outer_command(tmp_path):
    from tests.estate_support import command_targets, scan_files

    inv = scan_files(tmp_path, {
        "dns.tf": 'resource "aws_route53_record" "redis" {\n  name = "redis.prod.example.internal"\n}\n',
        "runbooks/cache.md": "# Cache\n\n```shell\n"
                             "kubectl -n shop-prod run redis-cli --rm -it --image=valkey/valkey:7.2 -- "
                             "valkey-cli -h redis.prod.example.internal\n```\n",
    })
    targets = command_targets(inv)
    line = next(c for c in targets if c.startswith("kubectl -n shop-prod run"))
    # `kubectl run` starts a pod in the namespace; the host after `--` is the new pod's business.
    assert "k8s-namespace:shop-prod" in targets[line]


def test_a_shell_opened_by_ssh_places_what_names_nothing_until_the_next_heading():
    inv = _inventory()
    host = "other:redis-cache-03-db-gprd.c.gitlab-production.internal"
    assert _target_of(inv, "sudo gitlab-redis-cli --bigkeys") == {host}
    # `## Replication lag` is a new section: no shell is open there, nothing is named.
    assert _target_of(inv, "sudo gitlab-psql") == {None}
    # Typed on the host, a command naming its own system keeps it.
    assert _target_of(inv, "sudo systemctl restart patroni") == {"service:patroni"}


def test_commands_run_through_knife_ssh_operate_the_role(tmp_path):
    inv = _inventory()
    targets = _target_of(inv, "knife ssh 'roles:gprd-base-stor-gitaly' 'df -h /var/opt/gitlab'")
    assert targets == {"other:gprd-base-stor-gitaly"}
    role = next(e for e in inv.resources if e.id == "other:gprd-base-stor-gitaly")
    assert role.environments == ["prod"]  # the role's name says gprd
    # A Chef role from a file: the role's name is inside the file, nothing is guessed.
    assert _target_of(inv, "knife role from file roles/gprd-base-fe-web.json") == {None}


def test_the_subcommand_word_is_not_a_system_name():
    # The catalog has a `console` service; `gitlab-rails console` does not name it.
    assert _target_of(_inventory(), "sudo gitlab-rails console") == {"service:gitlab-rails"}


def test_ssh_session_ends_at_exit(tmp_path):
    from tests.estate_support import command_targets, scan_files

    inv = scan_files(tmp_path, {"runbooks/db.md": (
        "# DB\n\n```shell\nssh db-01.prod.example.net\nsudo systemctl restart postgresql\nexit\n"
        "sudo systemctl restart nginx\n```\n\n```shell\nsudo -u postgres psql -c 'select 1'\n```\n")})
    targets = command_targets(inv)
    # systemctl names its unit; psql names nothing and the shell was left with `exit`.
    assert targets["sudo -u postgres psql -c 'select 1'"] == {None}


def test_ssh_session_places_a_command_naming_nothing(tmp_path):
    from tests.estate_support import command_targets, scan_files

    inv = scan_files(tmp_path, {"runbooks/db.md": (
        "# DB\n\n## Check\n\n```shell\nssh db-01.prod.example.net\n```\n\nThen:\n\n"
        "```shell\nsudo -u postgres psql -c 'select 1'\n```\n\n## Other\n\n```shell\nsudo -u postgres psql -c 'select 2'\n```\n")})
    targets = command_targets(inv)
    assert targets["sudo -u postgres psql -c 'select 1'"] == {"other:db-01.prod.example.net"}
    host = next(e for e in inv.resources if e.id == "other:db-01.prod.example.net")
    assert host.environments == ["prod"]
    assert targets["sudo -u postgres psql -c 'select 2'"] == {None}


def test_kubectl_apply_of_a_manifest_in_the_repo_operates_what_it_defines(tmp_path):
    from tests.estate_support import command_targets, scan_files

    inv = scan_files(tmp_path, {
        "manifests/orders.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: orders\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - name: orders\n          image: acme/orders:1\n---\n"
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: orders\nspec:\n  ports:\n    - port: 80\n"),
        "docs/deploy.md": "# Deploy\n\n```shell\nkubectl apply -f ../manifests/orders.yaml\n"
                          "kubectl apply -f manifests/orders.yaml\nkubectl apply -f manifests/missing.yaml\n```\n",
    })
    targets = command_targets(inv)
    assert targets["kubectl apply -f ../manifests/orders.yaml"] == {"service:orders"}
    assert targets["kubectl apply -f manifests/orders.yaml"] == {"service:orders"}
    # A file the scan did not read names nothing of its own: the current context's cluster.
    assert targets["kubectl apply -f manifests/missing.yaml"] == {"k8s-cluster:current-context"}


def test_a_manifest_with_a_kafka_and_its_node_pools_is_the_kafka(tmp_path):
    from tests.estate_support import command_targets, scan_files

    pool = ("apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaNodePool\nmetadata:\n  name: {n}\n  labels:\n"
            "    strimzi.io/cluster: events\nspec:\n  replicas: 3\n  roles: [{n}]\n")
    inv = scan_files(tmp_path, {
        "kafka/events.yaml": (
            "apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata:\n  name: events\nspec:\n"
            "  kafka:\n    version: 3.9.0\n---\n" + pool.format(n="broker") + "---\n" + pool.format(n="controller")),
        "README.md": "# Kafka\n\n```shell\nkubectl apply -f kafka/events.yaml -n kafka\n```\n",
    })
    targets = command_targets(inv)
    assert targets["kubectl apply -f kafka/events.yaml -n kafka"] == {"kafka-cluster:events"}


def test_building_the_image_a_workload_runs_operates_that_workload(tmp_path):
    from tests.estate_support import command_targets, scan_files

    deploy = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {n}\nspec:\n  template:\n    spec:\n"
              "      containers:\n        - name: app\n          image: {i}\n")
    inv = scan_files(tmp_path, {
        "k8s/orders.yaml": deploy.format(n="orders", i="registry.example.com/acme/orders:1.4"),
        "k8s/a.yaml": deploy.format(n="worker-a", i="acme/worker:2"),
        "k8s/b.yaml": deploy.format(n="worker-b", i="acme/worker:2"),
        "docs/release.md": "# Release\n\n```shell\ndocker build -t acme/orders:1.5 .\n"
                           "docker push ghcr.io/acme/orders:1.5\ndocker build -t acme/worker:3 .\n"
                           "docker build -t acme/other:1 .\n```\n",
    })
    targets = command_targets(inv)
    assert targets["docker build -t acme/orders:1.5 ."] == {"service:orders"}
    assert targets["docker push ghcr.io/acme/orders:1.5"] == {"service:orders"}
    # Two workloads run acme/worker, and nothing runs acme/other: neither is guessed.
    assert targets["docker build -t acme/worker:3 ."] == {None}
    assert targets["docker build -t acme/other:1 ."] == {None}


def test_a_host_option_of_an_unknown_tool_names_the_host(tmp_path):
    from tests.estate_support import command_targets, scan_files

    inv = scan_files(tmp_path, {"perf/README.md": (
        "# Load test\n\n```shell\npoetry run locust -f ./load.py --headless --host=https://api.staging.example.com\n```\n")})
    targets = command_targets(inv)
    cmd = "poetry run locust -f ./load.py --headless --host=https://api.staging.example.com"
    assert targets[cmd] == {"other:api.staging.example.com"}
    host = next(e for e in inv.resources if e.id == "other:api.staging.example.com")
    assert host.environments == ["staging"]


def test_virtctl_names_its_vm_or_runs_against_the_current_context(tmp_path):
    from tests.estate_support import command_targets, scan_files

    inv = scan_files(tmp_path, {"runbooks/vm.md": (
        "# VM\n\n```shell\nvirtctl restart db-vm -n vms\nvirtctl console <vm-name> -n <namespace>\n```\n")})
    targets = command_targets(inv)
    assert targets["virtctl restart db-vm -n vms"] == {"other:db-vm"}
    assert targets["virtctl console <vm-name> -n <namespace>"] == {"k8s-cluster:current-context"}
