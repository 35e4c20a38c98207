"""Throughput of `stackpolicy classify --stdin`: ``python bench/classify_speed.py [--lines N]``.

Measures three things on synthetic but realistic command lines (every line distinct, so the
per-line cache does not help unless stated):

* in-process, distinct lines, no inventory;
* in-process, distinct lines, with the bundled example's inventory (target resolution);
* end to end: the CLI reading N lines on stdin and writing JSON lines (process start included).

The aim from the issue is >= 2,000 commands/s with ``--stdin``.
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--lines", type=int, default=20_000)
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
    start = time.perf_counter()
    proc = subprocess.run([str(exe), "classify", "--stdin", "--json"], input=stdin, capture_output=True,
                          text=True, check=True)
    elapsed = time.perf_counter() - start
    out_lines = proc.stdout.count("\n")
    start = time.perf_counter()
    subprocess.run([str(exe), "classify", "--stdin", "--json"], input="true\n", capture_output=True, text=True, check=True)
    startup = time.perf_counter() - start
    print(f"CLI --stdin --json:         {out_lines / elapsed:8.0f} commands/s wall "
          f"({out_lines} lines in {elapsed:.2f}s; process start alone {startup:.2f}s; "
          f"{out_lines / max(elapsed - startup, 1e-9):.0f}/s without it)")


if __name__ == "__main__":
    main()
