"""Runbook commands resolve to the system they operate, by what the command names: a
Kubernetes object, a label selector, a tool's own system, a systemd unit, a host, a namespace,
a context — else the cluster of the current kube context. With no inventory entity for it,
the runbook line creates the system (environment unresolved: production's tiers)."""

from __future__ import annotations

from pathlib import Path

from inventory.operated import CURRENT_CONTEXT
from tests.estate_support import scan_files as _scan, command_targets as _targets

RUNBOOK = """# AlertmanagerFailed

## Diagnosis

```shell
kubectl logs sts/alertmanager-main -n monitoring -c config-reloader
kubectl -n monitoring logs prometheus-k8s-0
oc get pods -n openshift-etcd -l app=etcd
etcdctl endpoint health -w table
systemctl restart kubelet.service
ssh db1.gprd.example.net uptime
oc -n openshift-storage get pvc
kubectl --context prod-eu get nodes
kubectl -n $NAMESPACE describe deployment $NAME
oc get pvc <my-pvc> -n <namespace> -o yaml
oc edit flowcollector cluster
oc get co network
ip link show
kubectl config use-context prod-eu
kubectl config view
kubectl -n kafka get pods -l strimzi.io/cluster=events
```
"""


def test_runbook_commands_resolve_to_what_they_name(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/alertmanager.md": RUNBOOK})
    t = _targets(inv)
    assert "service:alertmanager-main" in t["kubectl logs sts/alertmanager-main -n monitoring -c config-reloader"]
    assert "service:prometheus-k8s" in t["kubectl -n monitoring logs prometheus-k8s-0"]  # the pod's owner
    assert "other:etcd" in t["oc get pods -n openshift-etcd -l app=etcd"]  # the selector, typed by engine
    assert "other:etcd" in t["etcdctl endpoint health -w table"]  # the tool's own system
    assert "daemon:kubelet" in t["systemctl restart kubelet.service"]
    assert "other:db1.gprd.example.net" in t["ssh db1.gprd.example.net uptime"]
    assert "k8s-namespace:openshift-storage" in t["oc -n openshift-storage get pvc"]
    assert "k8s-cluster:prod-eu" in t["kubectl --context prod-eu get nodes"]
    # Only placeholders: the command runs against the current context's cluster.
    assert f"k8s-cluster:{CURRENT_CONTEXT}" in t["kubectl -n $NAMESPACE describe deployment $NAME"]
    # `<my-pvc>` is a placeholder, not a redirection: `yaml` (the -o value) names nothing.
    assert t["oc get pvc <my-pvc> -n <namespace> -o yaml"] == {f"k8s-cluster:{CURRENT_CONTEXT}"}
    # Custom resources are named with their kind: singletons share names (`cluster`).
    assert "other:flowcollector-cluster" in t["oc edit flowcollector cluster"]
    assert "other:co-network" not in t["oc get co network"] and "other:network" in t["oc get co network"]
    # A local tool (or kubeconfig) names no system.
    assert t["ip link show"] == {None}
    assert t["kubectl config view"] == {None}
    assert t["kubectl config use-context prod-eu"] == {"k8s-cluster:prod-eu"}  # the context it names
    # A project's cluster label picks its cluster.
    assert "service:events" in t["kubectl -n kafka get pods -l strimzi.io/cluster=events"]


def test_created_systems_carry_the_runbook_line_and_stay_unresolved(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/alertmanager.md": RUNBOOK})
    ents = {e.id: e for e in (*inv.components, *inv.resources)}
    am = ents["service:alertmanager-main"]
    assert [str(ev) for ev in am.evidence] == ["runbooks/alertmanager.md:6"]
    assert am.namespace == "monitoring" and am.attributes["k8s_kind"] == "StatefulSet"
    assert "sts" in str(am.attributes["operated_from"]) or "statefulset" in str(am.attributes["operated_from"])
    assert am.environments == []  # nobody stated one: production's tiers
    assert inv.unresolved is not None and "service:alertmanager-main" in inv.unresolved.entities
    # No system is made of placeholders or option values.
    assert not any(n in ents for n in ("service:yaml", "k8s-namespace:yaml", "volume:my-pvc"))


def test_an_inventory_entity_wins_over_a_created_one(tmp_path: Path) -> None:
    manifest = """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: alertmanager-main, namespace: monitoring}
spec:
  template:
    spec:
      containers: [{name: am, image: quay.io/prometheus/alertmanager:v0.27.0}]
"""
    inv = _scan(tmp_path, {"runbooks/alertmanager.md": RUNBOOK, "deploy/am.yaml": manifest})
    ents = {e.id: e for e in (*inv.components, *inv.resources)}
    am = next(e for e in ents.values() if e.name == "alertmanager-main")
    assert "operated_from" not in am.attributes  # the manifest's entity, not a runbook-made one
    assert am.id in _targets(inv)["kubectl logs sts/alertmanager-main -n monitoring -c config-reloader"]
    assert sum(1 for e in ents.values() if e.name == "alertmanager-main") == 1


def test_scripts_do_not_create_systems(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"scripts/ops.sh": "#!/bin/sh\nkubectl -n payments rollout restart deployment/api\n"})
    assert "service:api" not in {e.id for e in inv.components}


def test_a_created_system_is_placed_where_the_command_says(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/orders.md": "```\nkubectl -n orders-prod rollout restart deployment/orders-api\n```\n"})
    api = next(e for e in inv.components if e.id == "service:orders-api")
    assert api.environments == ["prod"]
    assert api.environment_sources[0].resolver == "runbook-command"
    assert str(api.environment_sources[0].evidence[0]) == "runbooks/orders.md:2"


def test_the_current_context_cluster_is_not_placed_by_one_command_and_has_no_invented_context(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/x.md": "```\nkubectl -n $NS describe deployment $NAME\n"
                                             "kubectl -n acme-staging get pvc $PVC\n```\n"})
    cluster = next(e for e in inv.resources if e.id == f"k8s-cluster:{CURRENT_CONTEXT}")
    assert cluster.environments == []
    implied = [a.command for a in inv.actions if a.target == cluster.id and a.origin == "implied"]
    assert implied and not any("--context" in (c or "") for c in implied)
