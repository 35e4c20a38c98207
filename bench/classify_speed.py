"""Throughput of `stackpolicy classify --stdin`: ``python bench/classify_speed.py [--lines N]``.

Measures three things on synthetic but realistic command lines (every line distinct, so the
per-line cache does not help unless stated):

* in-process, distinct lines, no inventory;
* in-process, distinct lines, with the bundled example's inventory (target resolution);
* end to end: the CLI reading N lines on stdin and writing JSON lines (process start included).

and the time of one pathological line (100,000 pipes) through the CLI.

The aim is >= 5,000 lines/s with ``--stdin`` on 10,000 unique lines, and the 100,000-pipe
line well under a second. Wall time on a shared machine swings with its load, so CPU time
(user + system of the process and its workers) is printed next to it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.classify import Classifier  # noqa: E402
from generators.risk.assess import build_index  # noqa: E402
from generators.risk.rules import load_rules  # noqa: E402

TEMPLATES = (
    "kubectl get pods -n team-{i}",
    "kubectl rollout restart deployment/api-{i} -n staging",
    "kubectl delete pod worker-{i}-7d9f8b6c5-x2k4q -n prod",
    "kubectl exec -n prod db-{i} -- psql -c 'SELECT count(*) FROM t{i}'",
    "sudo -u ops bash -c 'kubectl scale deploy/web-{i} --replicas=3 -n dev && kubectl get pods'",
    "kafka-consumer-groups --bootstrap-server kafka:9092 --group g{i} --reset-offsets --to-earliest --topic t{i} --execute",
    "aws s3 cp s3://acme-prod-data/part-{i}.parquet s3://elsewhere/",
    "pg_dump -h orders-db app{i} | aws s3 cp - s3://backups/app{i}.sql",
    "redis-cli -h cache GET key:{i}",
    "terraform plan -target=module.m{i}",
    "helm upgrade --install rel{i} ./chart -n prod",
    "curl -s http://svc-{i}/health",
    "echo 'DROP TABLE t{i}' | psql -h db",
    "vault kv get secret/app{i}",
    "tool-{i} --do-something",
    "gcloud compute instances delete vm-{i} --zone europe-west1-b",
    "az vm restart -g rg-{i} -n web-{i}",
    "gh pr view {i} --comments",
    "cat /var/log/app-{i}.log | grep ERROR > /tmp/errors-{i}.txt",
    "awk '{{print $1}}' access-{i}.log | sort | uniq -c",
    "psql -h db-{i} -c 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {i}'",
    "kubectl get secret creds-{i} -o jsonpath='{{.data.password}}'",
    "consul kv get config/app-{i}/flag",
    "GIT_SSH_COMMAND='ssh -i ~/.ssh/deploy-{i}' git fetch origin",
    "systemctl restart worker@{i}",
)


def lines(n: int) -> list[str]:
    """``n`` distinct command lines cycling through the templates."""
    return [TEMPLATES[i % len(TEMPLATES)].format(i=i) for i in range(n)]


def rate(classifier: Classifier, batch: list[str]) -> str:
    """Commands per second of wall time and of CPU time (the latter is steady on a busy machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in classifier.classify_many(batch):
        pass
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return f"{len(batch) / wall:8.0f} commands/s wall, {len(batch) / max(used, 1e-9):8.0f} per CPU-second"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--inventory", default=str(ROOT / "output" / "inventory.yaml"),
                    help="inventory for the with-inventory run (default: output/inventory.yaml)")
    args = ap.parse_args()
    batch = lines(args.lines)
    rules = load_rules()

    print(f"in-process, no inventory:   {rate(Classifier(rules), batch)}")

    inv_path = Path(args.inventory)
    if inv_path.exists():
        from inventory.io import load_inventory

        index = build_index(load_inventory(inv_path))
        print(f"in-process, with inventory: {rate(Classifier(rules, index), batch)}")
    else:
        print("in-process, with inventory: skipped (run `stackpolicy scan` to write output/inventory.yaml)")

    cached = Classifier(rules)
    rate(cached, batch)
    print(f"in-process, repeated lines: {rate(cached, batch)} (cache hits)")

    exe = Path(sys.executable).parent / "stackpolicy"
    stdin = "\n".join(batch) + "\n"
    elapsed, cpu, out = _cli(exe, stdin)
    out_lines = out.count("\n")
    startup, startup_cpu, _ = _cli(exe, "true\n")
    print(f"CLI --stdin --json:         {out_lines / elapsed:8.0f} lines/s wall, {out_lines / max(cpu, 1e-9):8.0f} per "
          f"CPU-second ({out_lines} unique lines in {elapsed:.2f}s wall, {cpu:.2f}s CPU; process start alone "
          f"{startup:.2f}s wall, {startup_cpu:.2f}s CPU)")
    pipes = "cat x | " * 100_000 + "kubectl delete ns prod"  # 800 kB: under the 1 MB line bound
    elapsed, cpu, out = _cli(exe, pipes + "\n")
    answer = json.loads(out.splitlines()[0])
    print(f"CLI, one 100,000-pipe line:  {elapsed:.2f}s wall, {cpu:.2f}s CPU incl. process start "
          f"(answer: {answer['tier']} {answer['decision']})")


def _cli(exe: Path, stdin: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child and its workers, stdout) of one ``classify --stdin --json`` run."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(exe), "classify", "--stdin", "--json"], input=stdin, capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


if __name__ == "__main__":
    main()
