"""Kafka's command-line tools (``kafka-topics[.sh]`` and friends)."""

from __future__ import annotations

from inventory.commands.model import ParsedCommand
from inventory.commands.options import parse_options, spec
from inventory.commands.tools import ToolContext

_KAFKA = spec(
    values="bootstrap-server zookeeper topic group partitions replication-factor config add-config "
    "delete-config entity-type entity-name entity-default command-config consumer-property producer-property "
    "to-datetime to-offset shift-by by-duration from-file max-messages property partition offset "
    "allow-principal deny-principal allow-host deny-host operation resource-pattern-type cluster "
    "transactional-id consumer.config producer.config timeout formatter key-deserializer value-deserializer "
    "broker broker-logger user client topics-to-move-json-file reassignment-json-file broker-list "
    "offset-json-file election-type path-to-json-file admin.config topic-white-list whitelist include "
    "replica-assignment",
    multi="topic group config add-config delete-config allow-principal deny-principal operation",
)
# The action switch of each tool, in the order they are checked.
_ACTIONS = ("create", "delete", "alter", "describe", "list", "reset-offsets", "delete-offsets", "add",
            "remove", "execute", "verify", "generate")
_OBJECT = {
    "kafka-topics": "topic",
    "kafka-consumer-groups": "consumer-group",
    "kafka-configs": None,
    "kafka-acls": "acl",
    "kafka-reassign-partitions": "partition-reassignment",
    "kafka-leader-election": "partition-leadership",
    "kafka-delete-records": "topic",
    "kafka-preferred-replica-election": "partition-leadership",
}
_ENTITY = {"topics": "topic", "brokers": "broker", "users": "user", "clients": "client", "groups": "consumer-group",
           "broker-loggers": "broker-logger", "ips": "ip"}


def parse_kafka_admin(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """kafka-topics / consumer-groups / configs / acls / reassign-partitions: action switch → verb."""
    p = parse_options(args, _KAFKA)
    f = p.flags
    verb = next((a for a in _ACTIONS if f.get(a) is True), None)
    if pc.tool == "kafka-consumer-groups" and verb == "reset-offsets":
        # Without --execute, reset-offsets only prints the plan.
        f.setdefault("dry-run", not f.get("execute"))
    if pc.tool == "kafka-reassign-partitions" and verb is None:
        verb = "unknown"
    if pc.tool == "kafka-delete-records":
        verb = "delete-records"
    if pc.tool in ("kafka-leader-election", "kafka-preferred-replica-election"):
        verb = "elect-leaders"
    pc.verb = verb or "unknown"
    f.pop(pc.verb, None)  # the action switch is the verb, not a flag
    pc.flags.update(f)
    pc.object_kind = _OBJECT.get(pc.tool)
    if pc.tool == "kafka-configs":
        et = f.get("entity-type")
        pc.object_kind = _ENTITY.get(str(et), str(et)) if isinstance(et, str) else None
        for key, kind in (("topic", "topic"), ("broker", "broker"), ("user", "user"), ("client", "client"),
                          ("group", "consumer-group")):
            if isinstance(f.get(key), str):
                pc.object_kind, pc.target = kind, str(f[key])
        if isinstance(f.get("entity-name"), str):
            pc.target = str(f["entity-name"])
        return
    if pc.tool == "kafka-acls":
        principal = f.get("allow-principal") or f.get("deny-principal")
        if isinstance(principal, str):
            pc.target = principal.split(",")[0].split(":", 1)[-1]
        return
    if pc.tool == "kafka-consumer-groups":
        if isinstance(f.get("group"), str):
            pc.target = str(f["group"])
        elif f.get("all-groups"):
            pc.target = "*"
        return
    if isinstance(f.get("topic"), str):
        pc.target = str(f["topic"])


def parse_kafka_console(pc: ParsedCommand, args: list[str], ctx: ToolContext) -> None:
    """kafka-console-consumer / producer: consume or produce on a topic."""
    p = parse_options(args, _KAFKA)
    pc.verb = "consume" if "consumer" in pc.tool else "produce"
    pc.object_kind = "topic"
    pc.flags.update(p.flags)
    if isinstance(p.flags.get("topic"), str):
        pc.target = str(p.flags["topic"])


PARSERS = {
    **{t: parse_kafka_admin for t in _OBJECT},
    "kafka-console-consumer": parse_kafka_console,
    "kafka-console-producer": parse_kafka_console,
    "kafka-avro-console-consumer": parse_kafka_console,
    "kafka-avro-console-producer": parse_kafka_console,
}
