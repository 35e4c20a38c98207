"""Shell parsing and tool parsers: the command layer every classification relies on."""

from __future__ import annotations

import shlex

import pytest

from inventory.commands.lexer import lex
from inventory.commands.shell import parse_command, parse_line
from inventory.commands.sql import primary_object, sql_kinds
from inventory.commands.verbs import action_verb

# (line, tool of the command to check, expected fields). `flags` is checked as a subset;
# `flags_absent` lists flags that must NOT be present; `verb_action` is the action vocabulary verb.
CASES: list[tuple[str, str, dict]] = [
    # --- wrappers and nesting: known permission-system bypasses --------------------------
    ('bash -c "kubectl delete ns x"', "kubectl",
     {"verb": "delete", "object_kind": "namespace", "target": "x", "via": "bash -c"}),
    ("sudo -u postgres psql -c 'DROP TABLE t'", "psql",
     {"verb": "sql", "sql_kinds": ["drop"], "object_kind": "table", "target": "t", "wrappers": ["sudo"]}),
    ("echo 'FLUSHALL' | redis-cli", "redis-cli", {"verb": "flushall", "via": "pipe", "verb_action": "flush"}),
    ("timeout 5 /usr/local/bin/kubectl delete pod api-1 -n prod", "kubectl",
     {"verb": "delete", "object_kind": "pod", "target": "api-1", "namespace": "prod", "wrappers": ["timeout"]}),
    ("kubectl get pods -o name | xargs kubectl delete pod", "kubectl",
     {"verb": "delete", "object_kind": "pod", "wrappers": ["xargs"]}),
    ('kubectl exec -it db-0 -- psql -c "TRUNCATE x"', "psql",
     {"verb": "sql", "sql_kinds": ["truncate"], "target": "x", "via": "kubectl exec", "verb_action": "truncate"}),
    ("find . -name x | xargs rm -rf", "rm",
     {"verb": "delete", "flags": {"recursive": True, "force": True}, "wrappers": ["xargs"]}),
    ("env FOO=1 terraform destroy", "terraform", {"verb": "destroy", "wrappers": ["env"]}),
    ("FOO=1 BAR=2 terraform apply -auto-approve", "terraform",
     {"verb": "apply", "flags": {"auto-approve": True}, "wrappers": ["env"]}),
    ("sh -c 'sudo kubectl drain node-1 --ignore-daemonsets'", "kubectl",
     {"verb": "drain", "object_kind": "node", "target": "node-1", "wrappers": ["sudo"]}),
    ("zsh -lc 'kafka-topics --bootstrap-server b:9092 --delete --topic t1'", "kafka-topics",
     {"verb": "delete", "target": "t1", "via": "zsh -c"}),
    ("ssh bastion.prod 'kubectl -n acme-prod delete deploy/orders-api'", "kubectl",
     {"verb": "delete", "object_kind": "deployment", "target": "orders-api", "namespace": "acme-prod", "via": "ssh"}),
    ("ssh -i ~/.ssh/key -p 2222 admin@db1 sudo systemctl restart postgresql", "systemctl",
     {"verb": "restart", "target": "postgresql", "via": "ssh", "wrappers": ["sudo"]}),
    ("nohup nice -n 10 ionice -c3 pg_dump -h db -d orders -f /tmp/o.sql &", "pg_dump",
     {"verb": "dump", "target": "orders", "flags": {"file": "/tmp/o.sql"}, "wrappers": ["nohup", "nice", "ionice"]}),
    ("watch -n 5 'kubectl get pods -n kafka'", "kubectl", {"verb": "get", "namespace": "kafka", "via": "watch"}),
    ("time stdbuf -oL kubectl logs -f deploy/api", "kubectl",
     {"verb": "logs", "object_kind": "deployment", "target": "api", "wrappers": ["time", "stdbuf"]}),
    ("exec command kubectl scale deploy api --replicas=0", "kubectl",
     {"verb": "scale", "object_kind": "deployment", "target": "api", "flags": {"replicas": "0"}}),
    ("docker exec -it pg psql -U app -c 'DELETE FROM users'", "psql",
     {"sql_kinds": ["delete", "delete-all"], "target": "users", "via": "docker exec", "verb_action": "truncate"}),
    ("docker compose exec valkey valkey-cli FLUSHALL", "valkey-cli",
     {"verb": "flushall", "via": "docker compose exec"}),
    ("kubectl exec db-0 -- bash -c 'psql -c \"DROP DATABASE orders\"'", "psql",
     {"sql_kinds": ["drop"], "object_kind": "database", "target": "orders", "via": "kubectl exec > bash -c"}),
    ("x=$(kubectl get secret db -o jsonpath='{.data.password}')", "kubectl",
     {"verb": "get", "object_kind": "secret", "target": "db", "via": "substitution", "verb_action": "read-value"}),
    ("echo `kubectl delete ns old`", "kubectl", {"verb": "delete", "object_kind": "namespace", "target": "old"}),
    ("(cd infra && terraform destroy -auto-approve)", "terraform", {"verb": "destroy"}),
    ("su - postgres -c 'psql -c \"DROP TABLE audit\"'", "psql", {"sql_kinds": ["drop"], "wrappers": ["su"]}),
    ("env -S 'kubectl delete ns a'", "kubectl", {"verb": "delete", "target": "a"}),
    ("printf 'FLUSHDB\\n' | redis-cli -h cache", "redis-cli", {"verb": "flushdb", "flags": {"host": "cache"}}),
    ("psql -h db <<EOF\nDELETE FROM orders;\nDROP TABLE tmp;\nEOF", "psql",
     {"sql_kinds": ["delete", "delete-all", "drop"], "object_kind": "table", "target": "tmp", "verb_action": "drop"}),
    ("cat <<'SQL' | psql orders\nTRUNCATE events;\nSQL", "psql", {"sql_kinds": ["truncate"], "via": "pipe"}),
    ("psql -d orders <<< 'SELECT 1'", "psql", {"sql_kinds": ["select"], "verb_action": "query-read"}),
    ("psql -f migrations/0042.sql orders", "psql",
     {"sql_kinds": ["unknown"], "object_kind": "sql-file", "verb_action": "migrate"}),
    ("mysql -u root -pHunter2 -e 'DROP DATABASE shop'", "mysql",
     {"sql_kinds": ["drop"], "target": "shop", "flags_absent": ["password"]}),
    ("find /var/log -name '*.gz' -exec rm -f {} \\;", "rm", {"verb": "delete", "via": "find -exec"}),
    ("find /tmp -mtime +7 -delete", "find", {"verb": "delete", "target": "/tmp"}),
    ("cat script.sql | bash", "cat", {"verb": "read"}),
    ('eval "kubectl delete ns x"', "kubectl", {"verb": "delete", "target": "x", "wrappers": ["eval"]}),
    ('echo "DROP TABLE x" | kubectl exec -i db-0 -- psql', "psql",
     {"sql_kinds": ["drop"], "target": "x", "via": "kubectl exec"}),
    ("kubectl exec -i db-0 -- psql <<EOF\nTRUNCATE t;\nEOF", "psql", {"sql_kinds": ["truncate"], "target": "t"}),
    ('busybox sh -c "rm -rf /data"', "rm", {"target": "/data", "flags": {"recursive": True}}),
    ("parallel kubectl delete pod ::: a b", "kubectl", {"verb": "delete", "wrappers": ["parallel"]}),
    ("sudo -i", "sudo", {"verb": "shell"}),
    ("curl -s https://get.example.com/install.sh | sudo bash", "bash", {"verb": "shell", "wrappers": ["sudo"]}),
    # --- kubectl ----------------------------------------------------------------------
    ("kubectl get secret x -o yaml", "kubectl",
     {"verb": "get", "object_kind": "secret", "target": "x", "flags": {"output": "yaml"}, "verb_action": "read-value"}),
    ("kubectl get secrets -n acme-prod", "kubectl", {"object_kind": "secret", "target": None, "verb_action": "list"}),
    ("kubectl -n acme-prod get pods -l app=orders", "kubectl",
     {"verb": "get", "object_kind": "pod", "namespace": "acme-prod", "flags": {"selector": "app=orders"}}),
    ("kubectl get pods -A", "kubectl", {"namespace": None, "flags": {"all-namespaces": True}}),
    ("kubectl get pods --all-namespaces", "kubectl", {"flags": {"all-namespaces": True}}),
    ("kubectl describe sts/kafka-0 --namespace=kafka", "kubectl",
     {"verb": "describe", "object_kind": "statefulset", "target": "kafka-0", "namespace": "kafka"}),
    ("kubectl logs -p orders-api-7d9f8b6c4-x2x9z -c app --since=1h", "kubectl",
     {"verb": "logs", "object_kind": "pod", "target": "orders-api-7d9f8b6c4-x2x9z",
      "flags": {"previous": True, "container": "app", "since": "1h"}}),
    ("kubectl top pods -n acme-prod", "kubectl", {"verb": "top", "object_kind": "pod"}),
    ("kubectl delete kafkatopic orders-events -n kafka", "kubectl",
     {"verb": "delete", "object_kind": "kafkatopic", "target": "orders-events", "verb_action": "delete"}),
    ("kubectl delete kafkatopics.kafka.strimzi.io/orders-events", "kubectl",
     {"object_kind": "kafkatopic", "target": "orders-events"}),
    ("kubectl delete pods --all -n staging --grace-period=0 --force", "kubectl",
     {"flags": {"all": True, "grace-period": "0", "force": True}}),
    ("kubectl apply -f k8s/prod/ --dry-run=server", "kubectl",
     {"verb": "apply", "object_kind": "manifest", "target": "k8s/prod/", "flags": {"dry-run": "server"},
      "verb_action": "deploy"}),
    ("kubectl apply -f - <<EOF\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: sandbox\nEOF", "kubectl",
     {"verb": "apply", "object_kind": "namespace", "target": "sandbox"}),
    ("kubectl create job manual-1 --from=cronjob/nightly-export -n data", "kubectl",
     {"verb": "create", "object_kind": "job", "target": "manual-1", "flags": {"from": "cronjob/nightly-export"},
      "verb_action": "rerun"}),
    ("kubectl create secret generic db --from-literal=password=s3cr3t", "kubectl",
     {"verb": "create", "object_kind": "secret", "target": "db", "flags": {"type": "generic"}}),
    ("kubectl edit configmap app-config", "kubectl", {"verb": "edit", "object_kind": "configmap"}),
    ("kubectl patch cronjob nightly -p '{\"spec\":{\"suspend\":true}}'", "kubectl",
     {"verb": "patch", "object_kind": "cronjob", "target": "nightly", "verb_action": "suspend"}),
    ("kubectl scale statefulset kafka --replicas=5", "kubectl",
     {"verb": "scale", "object_kind": "statefulset", "target": "kafka", "flags": {"replicas": "5"}}),
    ("kubectl rollout restart deployment/orders-api -n acme-prod", "kubectl",
     {"verb": "rollout restart", "object_kind": "deployment", "target": "orders-api", "namespace": "acme-prod",
      "verb_action": "restart"}),
    ("kubectl rollout undo deploy orders-api --to-revision=3", "kubectl",
     {"verb": "rollout undo", "target": "orders-api", "flags": {"to-revision": "3"}, "verb_action": "rollback"}),
    ("kubectl rollout status deploy/orders-api", "kubectl", {"verb": "rollout status", "verb_action": "describe"}),
    ("kubectl cp acme-prod/db-0:/var/backups/dump.sql ./dump.sql", "kubectl",
     {"verb": "cp", "object_kind": "pod", "target": "db-0", "namespace": "acme-prod",
      "flags": {"direction": "from-pod"}}),
    ("kubectl port-forward svc/orders-db 5432:5432", "kubectl",
     {"verb": "port-forward", "object_kind": "service", "target": "orders-db"}),
    ("kubectl cordon node-7", "kubectl", {"verb": "cordon", "object_kind": "node", "target": "node-7"}),
    ("kubectl label deploy api tier=web --overwrite", "kubectl",
     {"verb": "label", "object_kind": "deployment", "target": "api"}),
    ("kubectl annotate kafka events strimzi.io/manual-rolling-update=true", "kubectl",
     {"verb": "annotate", "object_kind": "kafka", "target": "events"}),
    ("kubectl set image deployment/api app=acme/api:1.2.3", "kubectl",
     {"verb": "set image", "target": "api", "flags": {"image": "acme/api:1.2.3"}, "verb_action": "deploy"}),
    ("kubectl auth can-i delete pods --as=system:serviceaccount:ci:deployer", "kubectl",
     {"verb": "auth can-i", "object_kind": "pod"}),
    ("kubectl --context prod-eu -n payments get deploy", "kubectl",
     {"namespace": "payments", "flags": {"context": "prod-eu"}}),
    ("oc delete project legacy", "oc", {"verb": "delete", "object_kind": "project", "target": "legacy"}),
    # --- helm / gitops ----------------------------------------------------------------
    ("helm upgrade --install orders charts/orders -n acme-prod -f values-prod.yaml --set image.tag=1.2", "helm",
     {"verb": "upgrade", "object_kind": "release", "target": "orders", "namespace": "acme-prod",
      "flags": {"install": True, "chart": "charts/orders", "values": "values-prod.yaml"}, "verb_action": "deploy"}),
    ("helm rollback orders 3 -n acme-prod", "helm",
     {"verb": "rollback", "target": "orders", "flags": {"revision": "3"}, "verb_action": "rollback"}),
    ("helm uninstall recommendations -n acme-staging", "helm", {"verb": "uninstall", "verb_action": "delete"}),
    ("helm list -A", "helm", {"verb": "list"}),
    ("helm get values orders -n acme-prod", "helm", {"verb": "get values", "target": "orders"}),
    ("helm template orders charts/orders", "helm", {"verb": "template", "verb_action": "render"}),
    ("argocd app sync orders-prod --prune", "argocd",
     {"verb": "app sync", "object_kind": "application", "target": "orders-prod", "verb_action": "deploy"}),
    ("flux reconcile kustomization apps -n flux-system", "flux",
     {"verb": "reconcile", "object_kind": "kustomization", "target": "apps"}),
    ("velero backup create nightly --include-namespaces acme-prod", "velero",
     {"verb": "backup create", "target": "nightly", "verb_action": "backup"}),
    ("istioctl analyze -n acme-prod", "istioctl", {"verb": "analyze", "namespace": "acme-prod"}),
    # --- terraform --------------------------------------------------------------------
    ("terraform plan -target=module.db -out=tfplan", "terraform",
     {"verb": "plan", "object_kind": "resource", "target": "module.db", "flags": {"out": "tfplan"}}),
    ("terraform apply -auto-approve -target aws_s3_bucket.logs", "terraform",
     {"verb": "apply", "target": "aws_s3_bucket.logs", "flags": {"auto-approve": True}}),
    ("terraform apply -destroy -auto-approve", "terraform", {"verb": "destroy", "flags": {"destroy": True}}),
    ("terraform -chdir=infra/prod destroy", "terraform", {"verb": "destroy", "flags": {"chdir": "infra/prod"}}),
    ("terraform import aws_db_instance.orders orders-db", "terraform",
     {"verb": "import", "target": "aws_db_instance.orders"}),
    ("terraform state rm module.cache.aws_elasticache_cluster.main", "terraform",
     {"verb": "state rm", "target": "module.cache.aws_elasticache_cluster.main"}),
    ("terraform state mv aws_s3_bucket.a aws_s3_bucket.b", "terraform", {"verb": "state mv"}),
    ("terraform taint aws_instance.web", "terraform", {"verb": "taint", "target": "aws_instance.web"}),
    ("terraform workspace select prod", "terraform", {"verb": "workspace select", "target": "prod"}),
    ("terraform apply -var 'db_password=hunter2' tfplan", "terraform",
     {"verb": "apply", "flags": {"var": True, "plan-file": "tfplan"}}),
    # --- kafka ------------------------------------------------------------------------
    ("kafka-topics.sh --bootstrap-server b:9092 --delete --topic orders-events", "kafka-topics",
     {"verb": "delete", "object_kind": "topic", "target": "orders-events"}),
    ("./bin/kafka-topics.sh --bootstrap-server b:9092 --create --topic t --partitions 6 --replication-factor 3",
     "kafka-topics", {"verb": "create", "flags": {"partitions": "6", "replication-factor": "3"}}),
    ("kafka-topics --bootstrap-server b:9092 --list", "kafka-topics", {"verb": "list"}),
    ("kafka-topics --bootstrap-server b:9092 --alter --topic t --partitions 12", "kafka-topics",
     {"verb": "alter", "verb_action": "alter-config"}),
    ("kafka-consumer-groups.sh --bootstrap-server b:9092 --group billing --topic orders --reset-offsets "
     "--to-earliest --execute", "kafka-consumer-groups",
     {"verb": "reset-offsets", "object_kind": "consumer-group", "target": "billing",
      "flags": {"execute": True, "to-earliest": True, "dry-run": False, "topic": "orders"}}),
    ("kafka-consumer-groups --bootstrap-server b:9092 --group billing --reset-offsets --to-latest --all-topics",
     "kafka-consumer-groups", {"verb": "reset-offsets", "flags": {"dry-run": "true"}}),
    ("kafka-consumer-groups --bootstrap-server b:9092 --describe --group billing", "kafka-consumer-groups",
     {"verb": "describe", "target": "billing"}),
    ("kafka-configs --bootstrap-server b:9092 --entity-type topics --entity-name orders --alter "
     "--add-config retention.ms=1000", "kafka-configs",
     {"verb": "alter", "object_kind": "topic", "target": "orders", "verb_action": "alter-config"}),
    ("kafka-acls --bootstrap-server b:9092 --add --allow-principal User:billing --operation Read --topic orders",
     "kafka-acls", {"verb": "add", "object_kind": "acl", "target": "billing", "verb_action": "alter-acls"}),
    ("kafka-console-consumer.sh --bootstrap-server b:9092 --topic orders --from-beginning", "kafka-console-consumer",
     {"verb": "consume", "target": "orders", "flags": {"from-beginning": True}}),
    ("kafka-console-producer --bootstrap-server b:9092 --topic orders", "kafka-console-producer",
     {"verb": "produce", "target": "orders"}),
    # --- databases --------------------------------------------------------------------
    ("psql postgres://app:s3cr3t@orders-db.acme-prod:5432/orders -c 'SELECT count(*) FROM orders'", "psql",
     {"sql_kinds": ["select"], "flags": {"host": "orders-db.acme-prod", "database": "orders"}}),
    ("psql -h db -c \"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d\"", "psql", {"sql_kinds": ["delete", "delete-all"]}),
    ("psql -c 'EXPLAIN ANALYZE DELETE FROM t'", "psql", {"sql_kinds": ["delete", "delete-all"]}),
    ("psql -c 'GRANT ALL ON orders TO intern'", "psql", {"sql_kinds": ["grant"], "verb_action": "grant"}),
    ("psql -c 'SELECT pg_terminate_backend(123)'", "psql", {"sql_kinds": ["select", "admin"]}),
    ("psql -h db -U app orders", "psql", {"verb": "connect", "flags": {"database": "orders"}}),
    ("pg_restore --clean -d orders dump.tar", "pg_restore",
     {"verb": "restore", "target": "orders", "flags": {"clean": True, "file": "dump.tar"}}),
    ("mysqldump -u root -psecret shop > shop.sql", "mysqldump",
     {"verb": "dump", "target": "shop", "flags": {"file": "shop.sql"}, "flags_absent": ["password"]}),
    ("pg_ctl promote -D /var/lib/postgresql/data", "pg_ctl", {"verb": "promote", "verb_action": "failover"}),
    ("patronictl -c /etc/patroni.yml switchover orders --candidate orders-1 --force", "patronictl",
     {"verb": "switchover", "target": "orders", "flags": {"candidate": "orders-1", "force": True},
      "verb_action": "failover"}),
    ("redis-cli -h cache -a s3cr3t FLUSHALL", "redis-cli",
     {"verb": "flushall", "flags": {"host": "cache", "auth": True}}),
    ("redis-cli --pass=s3cr3t CONFIG SET maxmemory 2gb", "redis-cli",
     {"verb": "config set", "target": "maxmemory", "verb_action": "config-set"}),
    ("valkey-cli -n 2 KEYS 'session:*'", "valkey-cli", {"verb": "keys", "flags": {"db": "2"}, "verb_action": "read"}),
    ("redis-cli --scan --pattern 'user:*'", "redis-cli", {"verb": "scan", "target": "user:*"}),
    ("etcdctl del /registry --prefix", "etcdctl", {"verb": "delete", "target": "/registry", "flags": {"prefix": True}}),
    ("etcdctl snapshot save /backup/etcd.db", "etcdctl", {"verb": "snapshot save", "verb_action": "dump"}),
    ("mongosh orders --eval 'db.users.drop()'", "mongosh", {"sql_kinds": ["drop"], "verb_action": "drop"}),
    # --- cloud ------------------------------------------------------------------------
    ("aws s3 ls s3://acme-logs/2024/", "aws", {"verb": "s3 ls", "object_kind": "bucket", "target": "acme-logs"}),
    ("aws s3 sync s3://acme-training-data ./local --profile prod", "aws",
     {"verb": "s3 sync", "target": "acme-training-data", "flags": {"direction": "download", "profile": "prod"},
      "verb_action": "copy-out"}),
    ("aws s3 rm s3://acme-logs --recursive", "aws", {"verb": "s3 rm", "flags": {"recursive": True}}),
    ("aws s3 rb s3://old-bucket --force", "aws", {"verb": "s3 rb", "target": "old-bucket", "verb_action": "delete"}),
    ("aws s3api put-bucket-acl --bucket acme-data --acl public-read", "aws",
     {"verb": "s3api put-bucket-acl", "target": "acme-data", "verb_action": "make-public"}),
    ("aws rds failover-db-cluster --db-cluster-identifier orders-aurora --region eu-west-1", "aws",
     {"verb": "rds failover-db-cluster", "target": "orders-aurora", "object_kind": "db-cluster",
      "verb_action": "failover"}),
    ("aws rds delete-db-instance --db-instance-identifier orders-db --skip-final-snapshot", "aws",
     {"verb": "rds delete-db-instance", "target": "orders-db", "verb_action": "drop"}),
    ("aws secretsmanager get-secret-value --secret-id prod/orders/db", "aws",
     {"verb": "secretsmanager get-secret-value", "object_kind": "secret", "target": "prod/orders/db",
      "verb_action": "read-value"}),
    ("aws secretsmanager put-secret-value --secret-id x --secret-string hunter2", "aws",
     {"verb_action": "write", "flags": {"secret-string": True}}),
    ("aws iam attach-role-policy --role-name ci --policy-arn arn:aws:iam::aws:policy/AdministratorAccess", "aws",
     {"verb": "iam attach-role-policy", "object_kind": "role", "target": "ci", "verb_action": "grant"}),
    ("aws eks update-kubeconfig --name prod-eks --region us-east-1", "aws",
     {"verb": "eks update-kubeconfig", "target": "prod-eks", "verb_action": "use-context"}),
    ("gcloud sql instances delete orders-db --project acme-prod", "gcloud",
     {"verb": "sql instances delete", "object_kind": "instance", "target": "orders-db",
      "flags": {"project": "acme-prod"}, "verb_action": "delete"}),
    ("gcloud container clusters get-credentials prod --region europe-west1", "gcloud",
     {"verb": "container clusters get-credentials", "target": "prod", "verb_action": "use-context"}),
    ("gcloud secrets versions access latest --secret=db-password", "gcloud",
     {"verb": "secrets versions access", "verb_action": "read-value"}),
    ("gcloud storage buckets add-iam-policy-binding gs://acme-data --member=allUsers --role=roles/storage.objectViewer",
     "gcloud", {"verb_action": "make-public", "flags": {"public": True}}),
    ("gsutil -m rm -r gs://acme-tmp/**", "gsutil",
     {"verb": "rm", "target": "acme-tmp", "flags": {"recursive": True, "parallel": True}, "verb_action": "delete"}),
    ("gsutil iam ch allUsers:objectViewer gs://acme-public", "gsutil",
     {"verb": "iam ch", "target": "acme-public", "verb_action": "make-public"}),
    ("gsutil cp gs://acme-data/export.csv .", "gsutil", {"flags": {"direction": "download"}, "verb_action": "copy-out"}),
    ("bq query --use_legacy_sql=false 'DELETE FROM ds.events WHERE true'", "bq",
     {"verb": "query", "sql_kinds": ["delete", "delete-all"], "verb_action": "truncate"}),
    ("bq rm -r -f -d acme:analytics", "bq", {"verb": "rm", "verb_action": "delete"}),
    ("bq extract ds.users gs://x/users.csv", "bq", {"verb": "extract", "verb_action": "copy-out"}),
    ("az keyvault secret show --vault-name kv-prod --name db-pass", "az",
     {"verb": "keyvault secret show", "object_kind": "secret", "target": "db-pass",
      "flags": {"vault-name": "kv-prod"}}),
    ("az aks get-credentials -g rg -n prod-aks", "az", {"verb": "aks get-credentials", "target": "prod-aks"}),
    # --- system -----------------------------------------------------------------------
    ("docker ps -a", "docker", {"verb": "ps"}),
    ("docker logs --tail 100 api", "docker", {"verb": "logs", "target": "api"}),
    ("docker run --rm -e PGPASSWORD=x postgres:16 psql -h db -c 'DROP TABLE t'", "psql",
     {"sql_kinds": ["drop"], "via": "docker run"}),
    ("docker system prune -af --volumes", "docker",
     {"verb": "system prune", "flags": {"all": True, "force": True, "volumes": True}, "verb_action": "prune"}),
    ("docker compose down -v", "docker", {"verb": "compose down", "flags": {"volumes": True}, "verb_action": "delete"}),
    ("docker-compose up -d api", "docker-compose", {"verb": "compose up", "target": "api", "verb_action": "deploy"}),
    ("systemctl restart nginx.service", "systemctl", {"verb": "restart", "object_kind": "unit", "target": "nginx"}),
    ("systemctl disable --now kafka", "systemctl", {"verb": "disable", "flags": {"now": True}}),
    ("curl -X DELETE https://api.acme.io/v1/users/42", "curl",
     {"verb": "delete", "object_kind": "url", "target": "https://api.acme.io/v1/users/42", "verb_action": "http-delete"}),
    ("curl -H 'Authorization: Bearer abc123' -d '{\"a\":1}' https://api/x", "curl",
     {"verb": "post", "flags": {"data": True}, "flags_absent": ["header"]}),
    ("curl https://admin:pw@es:9200/_cat/indices?api_key=zzz", "curl",
     {"verb": "get", "target": "https://es:9200/_cat/indices?api_key=<redacted>"}),
    ("curl -I https://example.com", "curl", {"verb": "head"}),
    ("git push --force origin main", "git",
     {"verb": "push", "target": "main", "flags": {"force": True, "remote": "origin"}, "verb_action": "force-push"}),
    ("git push origin +main", "git", {"flags": {"force": True}, "verb_action": "force-push"}),
    ("git reset --hard HEAD~3", "git", {"verb": "reset", "flags": {"hard": True}, "verb_action": "reset-hard"}),
    ("git clean -fdx", "git", {"verb": "clean", "flags": {"force": True, "delete": True, "ignored": True}}),
    ("rm -rf /var/lib/postgresql/data", "rm",
     {"verb": "delete", "target": "/var/lib/postgresql/data", "flags": {"recursive": True, "force": True}}),
    ("vault kv get -field=password secret/orders/db", "vault",
     {"verb": "kv get", "object_kind": "secret", "target": "secret/orders/db", "verb_action": "read-value"}),
    ("vault kv put secret/app password=hunter2 user=app", "vault",
     {"verb": "kv put", "flags": {"keys": "password,user"}, "verb_action": "write"}),
    ("vault read database/creds/readonly", "vault", {"verb": "read", "target": "database/creds/readonly"}),
    ("jq '.items[]' pods.json", "jq", {"verb": "filter"}),
    ("grep -i error app.log", "grep", {"verb": "filter"}),
    ("tail -f /var/log/syslog", "tail", {"verb": "read", "target": "/var/log/syslog"}),
    ("ls -la /etc", "ls", {"verb": "list"}),
    ("frobnicate --all", "frobnicate", {"verb": "unknown", "verb_action": "run"}),
]


def _pick(line: str, tool: str):
    cl = parse_line(line)
    for c in reversed(cl.commands):  # the innermost / last command of that tool
        if c.tool == tool:
            return c
    raise AssertionError(f"no {tool} command in {line!r}: {[c.tool for c in cl.commands]}")


@pytest.mark.parametrize("line,tool,expected", CASES, ids=[c[0][:60] for c in CASES])
def test_command_table(line: str, tool: str, expected: dict) -> None:
    pc = _pick(line, tool)
    for key, value in expected.items():
        if key == "flags":
            for fk, fv in value.items():
                assert pc.flags.get(fk) == fv, f"flag {fk}: {pc.flags}"
        elif key == "flags_absent":
            for fk in value:
                assert fk not in pc.flags, pc.flags
        elif key == "verb_action":
            assert action_verb(pc) == value
        else:
            assert getattr(pc, key) == value, f"{key}: {getattr(pc, key)!r} (full: {pc})"


def test_table_is_broad() -> None:
    assert len(CASES) >= 60
    assert len({tool for _, tool, _ in CASES}) >= 30


@pytest.mark.parametrize(
    "line",
    ["kubectl delete ns 'unterminated", 'echo "open', "echo $(kubectl get po", "echo `date", "a && && b",
     ")))", "((((", "<<", "|||", "'", "\\", "$'\\x", "kubectl exec x --", "sudo", "sudo -u", "xargs", "ssh",
     "bash -c", "timeout", "", "   ", "# only a comment", "kubectl " + "-n x " * 500],
)
def test_bad_input_never_raises(line: str) -> None:
    cl = parse_line(line)
    assert cl.raw == line


def test_unbalanced_quote_sets_parse_error_but_keeps_command() -> None:
    cl = parse_line("kubectl delete ns 'prod")
    assert cl.parse_error and "quote" in cl.parse_error
    assert cl.commands[0].verb == "delete"
    assert cl.commands[0].target == "prod"


def test_compound_line_splits_in_order_with_operators() -> None:
    cl = parse_line("kubectl get po && kubectl delete po x || echo failed; helm list & sleep 1")
    assert [c.tool for c in cl.commands] == ["kubectl", "kubectl", "echo", "helm", "sleep"]
    assert cl.operators == ["&&", "||", ";", "&"]


def test_deep_nesting_is_bounded() -> None:
    line = "kubectl delete ns x"
    for _ in range(4):
        line = "bash -c " + shlex.quote(line)
    cl = parse_line(line)
    assert any(c.tool == "kubectl" and c.verb == "delete" for c in cl.commands)
    nested = "kubectl delete ns x"
    for _ in range(12):
        nested = "$(" + nested + ")"
    cl = parse_line("echo " + nested)
    assert cl.parse_error and "deep" in cl.parse_error


def test_makefile_variables_are_not_commands() -> None:
    cl = parse_line("$(KUBECTL) -n $(NAMESPACE) delete deploy api")
    assert [c.tool for c in cl.commands] == ["kubectl"]
    assert cl.commands[0].verb == "delete"


def test_case_patterns_and_keywords_dropped() -> None:
    cl = parse_line("if [[ $A == b && $C ]]; then kubectl get po; else helm list; fi")
    assert [c.tool for c in cl.commands] == ["[[", "kubectl", "helm"]


def test_parse_command_takes_argv() -> None:
    cmds = parse_command(["sudo", "-u", "postgres", "psql", "-c", "DROP TABLE x"])
    assert cmds[0].tool == "psql" and cmds[0].sql_kinds == ["drop"] and cmds[0].wrappers == ["sudo"]
    cmds = parse_command(["redis-cli"], stdin="FLUSHALL\nINFO")
    assert [c.verb for c in cmds] == ["flushall", "info"]


def test_secret_option_values_are_never_kept() -> None:
    for line in ("redis-cli -a hunter2 GET k", "mysql -phunter2 -e 'SELECT 1'",
                 "kubectl --token=hunter2 get po", "helm install x c --set db.password=hunter2",
                 "curl -u admin:hunter2 https://x", "etcdctl --user root:hunter2 get /",
                 "psql postgres://u:hunter2@db/x -c 'SELECT 1'"):
        for pc in parse_line(line).commands:
            assert "hunter2" not in str(pc.flags), (line, pc.flags)
            assert "hunter2" not in str(pc.target), (line, pc.target)


def test_lexer_heredoc_and_substitutions() -> None:
    lx = lex("cat <<-EOF | kubectl apply -f -\n\tkind: Namespace\n\tEOF\necho $(date) <(ls)")
    assert lx.commands[0].stdin == "\tkind: Namespace"
    assert lx.commands[1].op_before == "|"
    assert lx.commands[2].nested == ["date", "ls"]


def test_sql_helpers() -> None:
    assert sql_kinds("BEGIN; UPDATE a SET x=1; COMMIT;") == ["update", "update-all"]
    assert sql_kinds("-- DROP TABLE x\nSELECT 1") == ["select"]
    assert sql_kinds("UPDATE a SET x=1 WHERE id=2") == ["update"]
    assert sql_kinds("DELETE FROM t WHERE 1=1") == ["delete", "delete-all"]
    assert sql_kinds("SET GLOBAL read_only=ON") == ["set", "admin"]
    assert sql_kinds("COPY t TO PROGRAM 'curl x'") == ["copy", "program"]
    assert sql_kinds("SELECT * INTO OUTFILE '/tmp/x' FROM t") == ["select", "file-access"]
    assert sql_kinds("CREATE USER x") == ["create", "create user"]
    assert sql_kinds("\\! rm -rf /") == ["program"]
    assert sql_kinds("SELECT ';DROP TABLE x'") == ["select"]
    assert sql_kinds("\\dt\nSELECT 1") == ["meta", "select"]
    assert primary_object("SELECT 1; DROP TABLE IF EXISTS public.users") == ("table", "public.users")
