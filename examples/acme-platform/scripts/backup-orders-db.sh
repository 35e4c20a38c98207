#!/usr/bin/env bash
# Logical backup of orders-db to S3, on top of the nightly EBS snapshots.
# Runs pg_dump inside the replica pod (never the primary) and streams it to
# s3://acme-order-exports/db-backups/ encrypted with the data KMS key.
#
# usage: scripts/backup-orders-db.sh [acme-prod|acme-staging]
set -euo pipefail

NAMESPACE=${1:-acme-prod}
POD=${POD:-orders-db-1}
ENVIRONMENT=${NAMESPACE#acme-}
BUCKET=acme-order-exports
[[ "$ENVIRONMENT" == "prod" ]] || BUCKET="acme-order-exports-$ENVIRONMENT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
DEST="s3://$BUCKET/db-backups/orders-db/$STAMP/orders.dump"
KMS_ALIAS="alias/acme-$ENVIRONMENT-data"

in_recovery=$(kubectl -n "$NAMESPACE" exec "$POD" -- psql -U orders_app -d orders -tAc "SELECT pg_is_in_recovery();")
if [[ "$in_recovery" != "t" ]]; then
  echo "$POD is not a replica; refusing to dump from the primary" >&2
  exit 1
fi

echo "dumping $NAMESPACE/$POD to $DEST"
kubectl -n "$NAMESPACE" exec "$POD" -- \
  pg_dump -U orders_app -d orders --format=custom --compress=6 --no-owner \
  | aws s3 cp - "$DEST" \
      --sse aws:kms --sse-kms-key-id "$KMS_ALIAS" \
      --expected-size 200000000000

aws s3 ls "$DEST"
echo "done: $DEST"
