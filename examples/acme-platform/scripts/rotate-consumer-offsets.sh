#!/usr/bin/env bash
# Reset a consumer group's offsets on the shared `events` Kafka cluster.
# Dry run by default; pass --execute to apply. Scales the consumer Deployment to 0
# first (offsets cannot change while the group is active) and back afterwards.
#
# usage: scripts/rotate-consumer-offsets.sh <namespace> <deployment> <group> <topic> <to-latest|to-earliest|to-datetime=...> [--execute]
set -euo pipefail

NAMESPACE=${1:?namespace (acme-prod|acme-staging)}
DEPLOYMENT=${2:?deployment, e.g. notifications-worker}
GROUP=${3:?consumer group, e.g. notifications}
TOPIC=${4:?topic, e.g. orders-events}
TARGET=${5:?to-latest | to-earliest | to-datetime=2024-06-11T00:00:00.000}
MODE=${6:---dry-run}

BROKER_POD=${BROKER_POD:-events-dual-role-0}
KAFKA_BIN=/opt/kafka/bin

if [[ "$GROUP" == payments* && "$MODE" == "--execute" ]]; then
  echo "refusing to reset payments offsets from a script; see runbooks/kafka-consumer-lag.md" >&2
  exit 2
fi

case "$TARGET" in
  to-latest|to-earliest) RESET_ARGS=(--"$TARGET") ;;
  to-datetime=*) RESET_ARGS=(--to-datetime "${TARGET#to-datetime=}") ;;
  *) echo "unknown target: $TARGET" >&2; exit 2 ;;
esac

replicas=$(kubectl -n "$NAMESPACE" get deployment "$DEPLOYMENT" -o jsonpath='{.spec.replicas}')
echo "current replicas of $NAMESPACE/$DEPLOYMENT: $replicas"

if [[ "$MODE" == "--execute" ]]; then
  kubectl -n "$NAMESPACE" scale deployment "$DEPLOYMENT" --replicas=0
  kubectl -n "$NAMESPACE" rollout status deployment "$DEPLOYMENT" --timeout=5m
  trap 'kubectl -n "$NAMESPACE" scale deployment "$DEPLOYMENT" --replicas="$replicas"' EXIT
fi

kubectl -n kafka exec "$BROKER_POD" -- \
  "$KAFKA_BIN/kafka-consumer-groups.sh" --bootstrap-server localhost:9092 \
  --command-config /tmp/admin.properties \
  --group "$GROUP" --topic "$TOPIC" \
  --reset-offsets "${RESET_ARGS[@]}" "$MODE"
