"""A runbook is one shell session: a namespace an earlier line made current (``oc project``,
``kubectl config set-context --current --namespace``, ``kubens``) or a literal shell variable
(``export NS=...``) is where later commands that name no namespace run. ``-n x`` on one command,
placeholders, cluster-wide objects and other runbooks never carry."""

from __future__ import annotations

from pathlib import Path

from inventory.operated import CURRENT_CONTEXT
from tests.estate_support import scan_files as _scan, command_targets as _targets

RUNBOOK = """# Storage degraded

```shell
oc project openshift-storage
oc get pvc
oc get pods -n <namespace>
oc get nodes
oc get pods -A
oc logs rook-ceph-operator-5d8f7b9c4-abcde
```

```shell
export MON_NS=acme-staging
oc -n $MON_NS get pods
NS2=team-payments
kubectl -n ${NS2} get svc
oc -n $UNSET get pods
kubectl config set-context --current --namespace=openshift-monitoring
kubectl get statefulsets
```
"""
CLUSTER = f"k8s-cluster:{CURRENT_CONTEXT}"


def test_a_namespace_made_current_carries_to_later_commands(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/storage.md": RUNBOOK, "runbooks/other.md": "```\noc get pvc\n```\n"})
    t = _targets(inv)
    assert t["oc get pvc"] == {"k8s-namespace:openshift-storage", CLUSTER}  # this runbook / the other one
    assert t["oc logs rook-ceph-operator-5d8f7b9c4-abcde"] == {"service:rook-ceph-operator"}
    assert t["kubectl get statefulsets"] == {"k8s-namespace:openshift-monitoring"}
    ents = {e.id: e for e in (*inv.components, *inv.resources)}
    op = ents["service:rook-ceph-operator"]
    assert op.namespace == "openshift-storage"
    assert "`oc project openshift-storage` at runbooks/storage.md:4" in str(op.attributes["operated_from"])


def test_own_namespace_placeholders_and_cluster_wide_objects_do_not_take_it(tmp_path: Path) -> None:
    t = _targets(_scan(tmp_path, {"runbooks/storage.md": RUNBOOK}))
    assert t["oc get pods -n <namespace>"] == {CLUSTER}
    assert t["oc get nodes"] == {CLUSTER}
    assert t["oc get pods -A"] == {CLUSTER}
    assert t["oc -n $UNSET get pods"] == {CLUSTER}


def test_literal_shell_variables_give_their_value_and_its_environment(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/storage.md": RUNBOOK})
    t = _targets(inv)
    assert t["oc -n $MON_NS get pods"] == {"k8s-namespace:acme-staging"}
    assert t["kubectl -n ${NS2} get svc"] == {"k8s-namespace:team-payments"}
    ns = next(e for e in inv.resources if e.id == "k8s-namespace:acme-staging")
    assert ns.environments == ["staging"]
    (src,) = ns.environment_sources
    assert "export MON_NS=acme-staging" in src.how and [str(e) for e in src.evidence] == ["runbooks/storage.md:14"]
    # No environment word anywhere: unresolved, production's tiers.
    assert next(e for e in inv.resources if e.id == "k8s-namespace:team-payments").environments == []


def test_a_dash_n_on_one_command_does_not_change_the_session(tmp_path: Path) -> None:
    t = _targets(_scan(tmp_path, {"runbooks/x.md": "```\noc -n openshift-etcd get pods\noc get pvc\n```\n"}))
    assert t["oc -n openshift-etcd get pods"] == {"k8s-namespace:openshift-etcd"}
    assert t["oc get pvc"] == {CLUSTER}


CTX = """```shell
kubectx prod-eu
kubectl get pods
kubectl -n payments rollout restart deployment/api
kubectl --context staging-eu get pods
kubectx -
kubectl get svc
```
"""


def test_a_context_made_current_is_the_cluster_and_environment_of_later_commands(tmp_path: Path) -> None:
    inv = _scan(tmp_path, {"runbooks/ctx.md": CTX})
    t = _targets(inv)
    assert t["kubectl get pods"] == {"k8s-cluster:prod-eu"}
    assert t["kubectl --context staging-eu get pods"] == {"k8s-cluster:staging-eu"}  # its own wins
    assert t["kubectl get svc"] == {CLUSTER}  # `kubectx -`: which one is current is not known
    api = next(e for e in inv.components if e.id == "service:api")
    assert api.environments == ["prod"]
    assert "`kubectx prod-eu` at runbooks/ctx.md:2" in api.environment_sources[0].how
    # The carried context is not recorded as an option the command was given.
    restart = next(a for a in inv.actions if a.origin == "command" and a.target == "service:api")
    assert "context" not in restart.flags
