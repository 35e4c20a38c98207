"""The fast YAML writer: what it writes reads back as the same data, byte-deterministically."""

from __future__ import annotations

import yaml

from inventory import yamlout
from inventory.io import inventory_to_data, inventory_to_yaml, load_inventory
from tests.factories import make_inventory

TRICKY = [
    "", " lead", "trail ", "a: b", "a #b", "#hash", "- dash", "yes", "no", "0123", "1.5", "null", "~",
    "naïve – “quotes”", "back\\slash", "tab\there", "x " * 80, "ends:", "[list]", "{map}", "*alias", "&anchor",
    "line one\nline two\n", "no final newline\nsecond", "two finals\n\n", "\nleading blank", " indented\nfirst",
    "blank\n\nmiddle", "spaces only\n   \nline", "crlf\r\nline", "trailing spaces  \nkept  ", "bell\x07\nline",
    "---\n...\n", "# comment\n- item\nkey: value\n", "single\n",
]


def test_every_tricky_string_reads_back_exactly_in_both_modes() -> None:
    data = {"top": TRICKY, "nested": [{"k": s, "list": [s, {"deep": s}]} for s in TRICKY],
            **{f"key{i}": s for i, s in enumerate(TRICKY)}}
    for literal in (False, True):
        text = yamlout.dump(data, literal=literal)
        assert yaml.safe_load(text) == data, literal


def test_literal_mode_writes_multi_line_strings_as_blocks() -> None:
    text = yamlout.dump({"a": {"script": "set -e\nkubectl get pods\n"}, "b": ["one\ntwo"]}, literal=True)
    assert "  script: |\n    set -e\n    kubectl get pods\n" in text
    assert "- |-\n  one\n  two\n" in text
    # Strings a block could not carry exactly stay quoted.
    assert '"\\nleading blank"' in yamlout.dump({"x": "\nleading blank"}, literal=True)


def test_inventory_yaml_round_trips_and_is_deterministic(tmp_path) -> None:  # noqa: ANN001
    inv = make_inventory()
    text = inventory_to_yaml(inv)
    assert text == inventory_to_yaml(inv)
    assert yaml.safe_load(text) == inventory_to_data(inv)
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_inventory(path) == inv
