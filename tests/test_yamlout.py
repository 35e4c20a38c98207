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


def _pieces(writer, *args, **kwargs) -> tuple[str, int]:  # noqa: ANN001
    """What a streaming writer writes: the text and how many pieces it came in."""
    parts: list[str] = []
    writer(parts.append, *args, **kwargs)
    return "".join(parts), len(parts)


def test_dump_to_writes_the_same_bytes_in_pieces_and_makes_lazy_items_as_it_goes() -> None:
    data = {"top": TRICKY, "nested": [{"k": s, "list": [s, {"deep": s}]} for s in TRICKY], "none": []}
    made: list[int] = []

    def items():  # noqa: ANN202
        for i, item in enumerate(data["nested"] * 300):
            made.append(i)
            yield item

    for literal in (False, True):
        made.clear()
        lazy = {**data, "nested": yamlout.Lazy(items(), empty=False), "none": yamlout.Lazy(iter(()), empty=True)}
        text, pieces = _pieces(yamlout.dump_to, lazy, literal=literal)
        assert text == yamlout.dump({**data, "nested": data["nested"] * 300}, literal=literal)
        assert pieces > 1 and len(made) == len(data["nested"]) * 300  # written as it was made
    assert _pieces(yamlout.dump_to, {"a": 1})[0] == yamlout.dump({"a": 1})
    assert _pieces(yamlout.dump_to, [])[0] == yamlout.dump([]) == "[]\n"


def test_the_streamed_inventory_is_the_same_bytes() -> None:
    from inventory.io import inventory_yaml_writer

    inv = make_inventory()
    text, _ = _pieces(lambda write: inventory_yaml_writer(inv)(write))
    assert text == inventory_to_yaml(inv)
    empty = inv.model_copy(update={"components": [], "edges": []})
    assert _pieces(lambda write: inventory_yaml_writer(empty)(write))[0] == inventory_to_yaml(empty)


def test_a_plain_scalar_is_one_the_yaml_resolver_reads_as_a_string() -> None:
    """The resolver is only asked about strings whose first character can start another type;
    every string written plain still reads back as that string."""
    words = ["yes", "No", "on", "OFF", "true", "~", "null", "Null", "1", "1.5", "-1", "+1", ".inf", "-.inf", ".nan",
             "0x1F", "0o17", "1_000", "2026-01-14", "12:30:00", "<<", "=", "orders-api", "prod", "T3", "x1", "_x",
             "$(cmd)", "./run.sh", "/etc/passwd", "Yes please", "null-check", "true-ish", "1e3", "0", "00"]
    for w in words:
        text = yamlout.scalar(w)
        assert yaml.safe_load(f"k: {text}")["k"] == w, w
