"""Tables derived from a Rules object are made once per object and never served to another."""

from __future__ import annotations

from generators.risk.rules import build_rules, default_rules_data, load_rules, per_rules


def test_made_once_per_rules_object() -> None:
    store: dict = {}
    rules = load_rules()
    calls: list[object] = []
    first = per_rules(store, rules, lambda r: calls.append(r) or {"made": len(calls)})
    again = per_rules(store, rules, lambda r: calls.append(r) or {"made": len(calls)})
    assert first is again
    assert calls == [rules]


def test_another_object_under_a_reused_id_gets_its_own_table() -> None:
    store: dict = {}
    a = build_rules(default_rules_data())
    b = build_rules(default_rules_data())
    # What a freed id reused by a new object looks like: the stored entry is someone else's.
    store[id(b)] = (a, "a's table")
    assert per_rules(store, b, lambda r: "b's table") == "b's table"
    assert store[id(b)][0] is b


def test_store_starts_again_past_64_rule_sets() -> None:
    rules = load_rules()
    store: dict = {i: (object(), i) for i in range(65)}
    assert per_rules(store, rules, lambda r: "fresh") == "fresh"
    assert list(store) == [id(rules)]
