"""The inventory scrub's quick judgement agrees with the full keyed walk, case by case.

``scrub_inventory`` first decides from the distinct strings of the inventory's JSON whether
anything would be masked; only then does it walk and rebuild. These tests pin that the quick
decision sees exactly what the walk sees: secrets under secret keys, ``{name, value}`` pairs,
lists under secret keys, free-text secrets, and JSON with escaped quotes and backslashes.
"""

from __future__ import annotations

import pytest

from inventory.model import Action, CommandRef, Component, Evidence, Fact, Inventory
from inventory.secrets import REDACTED, _keyed_strings, _masks_any, _masks_any_json, _scrub, scrub_inventory

EV = Evidence(path="k8s/base/deploy.yaml", line=3)
PW = "Hunter2-Very-S3cret-Pw"
GH = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"


def _walk_masks(inv: Inventory) -> bool:
    counter = [0]
    _scrub(inv.model_dump(mode="python"), None, counter, {})
    return counter[0] > 0


def _component(**kw) -> Component:
    return Component(id="service:orders-api", kind="service", name="orders-api", evidence=[EV], **kw)


CASES = {
    "clean": Inventory(components=[_component(labels={"app": "orders-api"}, attributes={"port": 8080})]),
    "secret key": Inventory(components=[_component(attributes={"DB_PASSWORD": PW})]),
    "reference under a secret key": Inventory(components=[_component(attributes={"DB_PASSWORD": "${DB_PASSWORD}"})]),
    "list under a secret key": Inventory(components=[_component(attributes={"db_password": ["${OLD}", PW]})]),
    "name/value pair": Inventory(components=[_component(facts=[Fact(name="DB_PASSWORD", value=PW, evidence=[EV])])]),
    "name/value pair, clean": Inventory(components=[_component(facts=[Fact(name="replicas", value="3", evidence=[EV])])]),
    "token in free text": Inventory(actions=[Action(id="cmd:git/clone", verb="clone", tool="git", origin="command",
                                                   command=f"git clone https://{GH}@github.com/acme/x", evidence=[EV])]),
    "escaped quotes, clean": Inventory(actions=[Action(id="cmd:sh/run", verb="run", tool="sh", origin="command",
                                                       command='sh -c "echo \\"hi\\" \\\\"', evidence=[EV])]),
    "escaped quotes, secret": Inventory(actions=[Action(
        id="cmd:curl/get", verb="get", tool="curl", origin="command",
        command=f'curl -H "Authorization: Bearer {GH}" "https://x"',
        commands=[CommandRef(command=f'mysql -p"{PW}" -e "select 1"', evidence=EV)], evidence=[EV])]),
    "backslash at a string's end": Inventory(components=[_component(labels={"path": "C:\\dir\\"}, attributes={"x": GH})]),
    "secret as a dict key": Inventory(components=[_component(attributes={f"url=https://u:{PW}@db.example.com": 1})]),
    "already redacted": Inventory(components=[_component(attributes={"DB_PASSWORD": REDACTED})]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_quick_judgement_matches_the_walk(name: str) -> None:
    inv = CASES[name]
    expected = _walk_masks(inv)
    text = inv.model_dump_json()
    assert _masks_any_json(text) is expected
    assert _masks_any(_keyed_strings(text)) is expected


def test_the_cases_cover_both_answers() -> None:
    answers = {name: _walk_masks(inv) for name, inv in CASES.items()}
    assert answers["clean"] is False and answers["already redacted"] is False
    assert answers["secret key"] and answers["name/value pair"] and answers["token in free text"]
    assert answers["escaped quotes, secret"] and answers["list under a secret key"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_scrubbed_inventory_has_no_secret_left(name: str) -> None:
    out = scrub_inventory(CASES[name]).model_dump_json()
    assert PW not in out and GH not in out
    if not _walk_masks(CASES[name]):
        assert scrub_inventory(CASES[name]) is CASES[name]
