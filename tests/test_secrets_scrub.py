"""The inventory scrub's quick judgement agrees with the full keyed walk, case by case.

``scrub_inventory`` first decides from the distinct strings of the inventory's model (walked
without dumping it) whether anything would be masked; only then does it scrub and rebuild the
items that hold a secret. These tests pin that the quick decision sees exactly what the walk
over the whole dump sees: secrets under secret keys, ``{name, value}`` pairs, lists under secret
keys, free-text secrets, secrets in paths, warnings and dict keys.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from inventory.model import (
    Action,
    CommandRef,
    Component,
    Edge,
    Environment,
    EnvironmentSource,
    Evidence,
    Fact,
    Inventory,
    Owner,
    Resource,
    UnresolvedEnvironments,
    Warning,
)
from inventory.secrets import (
    REDACTED,
    _is_loose_secret_key,
    _judged_strings,
    _keyed_strings,
    _masks_any,
    _masks_any_model,
    _scrub,
    is_secret_key,
    scrub_inventory,
)

EV = Evidence(path="k8s/base/deploy.yaml", line=3)
PW = "Hunter2-Very-S3cret-Pw"
GH = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"


def _walk_masks(inv: BaseModel) -> bool:
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
    "name/value pair inside attributes": Inventory(components=[_component(attributes={"name": "DB_PASSWORD", "value": PW})]),
    "name/value pair, list value": Inventory(components=[_component(facts=[Fact(name="api_token", value=["x", PW],
                                                                              evidence=[EV])])]),
    "secret in an evidence path": Inventory(resources=[Resource(id="secret:x", kind="secret", name="x", evidence=[
        Evidence(path=f"envs/url=postgres://app:{PW}@db.internal/app.env", line=1)])]),
    "secret in a warning": Inventory(warnings=[Warning(path="a.md", message=f"cannot parse {GH}")]),
    "secret in the question": Inventory(unresolved=UnresolvedEnvironments(
        entities=["service:orders-api"], environments_found=[], signals_seen=[], settle=[], question=f"is {GH} prod?")),
    "secret in a source": Inventory(sources=[f"https://{GH}@github.com/acme/x"]),
    "secret in an edge's via": Inventory(edges=[Edge(source="service:a", target="postgres:b", via=f"PGPASSWORD={PW}",
                                                     evidence=[EV])]),
    "secret in an action flag": Inventory(actions=[Action(id="cmd:mysql/query", verb="query", tool="mysql",
                                                         origin="command", command="mysql", flags={"password": PW},
                                                         evidence=[EV])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_quick_judgement_matches_the_walk(name: str) -> None:
    inv = CASES[name]
    expected = _walk_masks(inv)
    text = inv.model_dump_json()
    assert _masks_any_model(inv) is expected
    assert _masks_any(_keyed_strings(text)) is expected


def _secretish(key: str | None) -> bool:
    return key is not None and (is_secret_key(key) or _is_loose_secret_key(key))


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_model_walk_judges_the_same_strings_as_the_dump(name: str) -> None:
    pairs = _keyed_strings(CASES[name].model_dump_json())
    free, keyed = _judged_strings(CASES[name])
    assert keyed == {(k, v) for k, v in pairs if _secretish(k)}
    # Field names of models that are not in this inventory are judged too (harmless, constant).
    assert {v for k, v in pairs if not _secretish(k)} <= free


def test_only_the_items_holding_a_secret_are_rebuilt() -> None:
    clean = [_component(), Component(id="service:b", kind="service", name="b", evidence=[EV])]
    leaky = Action(id="cmd:git/clone", verb="clone", tool="git", origin="command",
                   command=f"git clone https://{GH}@github.com/acme/x", evidence=[EV])
    plain = Action(id="cmd:git/pull", verb="pull", tool="git", origin="command", command="git pull", evidence=[EV])
    inv = Inventory(components=clean, actions=[leaky, plain], secrets=[EV])
    out = scrub_inventory(inv)
    assert out is not inv
    assert GH not in out.model_dump_json()
    assert out.actions[0].command == f"git clone https://{REDACTED}@github.com/acme/x"
    assert out.actions[1] is plain and all(a is b for a, b in zip(out.components, clean))
    # The result is what scrubbing the whole dump at once gives.
    assert out.model_dump() == _scrub(inv.model_dump(mode="python"), None, [0], {})


def test_the_cases_cover_both_answers() -> None:
    answers = {name: _walk_masks(inv) for name, inv in CASES.items()}
    assert answers["clean"] is False and answers["already redacted"] is False
    assert answers["secret key"] and answers["name/value pair"] and answers["token in free text"]
    assert answers["escaped quotes, secret"] and answers["list under a secret key"]
    assert all(answers[name] for name in CASES if name.startswith(("secret in", "name/value pair inside", "name/value pair, list")))


@pytest.mark.parametrize("name", sorted(CASES))
def test_scrubbed_inventory_has_no_secret_left(name: str) -> None:
    out = scrub_inventory(CASES[name]).model_dump_json()
    assert PW not in out and GH not in out
    if not _walk_masks(CASES[name]):
        assert scrub_inventory(CASES[name]) is CASES[name]


def test_free_text_is_judged_in_chunks_without_missing_any() -> None:
    from inventory.secrets import _FREE_TEXT_CHUNK, _free_text_masks_any

    clean = [f"kubectl -n team-{i} get pods" for i in range(_FREE_TEXT_CHUNK * 2 + 5)]
    assert _free_text_masks_any(clean) is False
    for where in (0, _FREE_TEXT_CHUNK - 1, _FREE_TEXT_CHUNK, len(clean)):
        values = [*clean[:where], f"git clone https://{GH}@github.com/acme/x", *clean[where:]]
        assert _free_text_masks_any(values) is True


# One valid instance of every model class an inventory can hold, for the field-by-field test below.
_SAMPLES = {
    Evidence: EV,
    Fact: Fact(name="replicas", value="3", evidence=[EV]),
    EnvironmentSource: EnvironmentSource(environment="prod", how="overlay", resolver="kustomize", evidence=[EV]),
    Component: _component(),
    Resource: Resource(id="postgres:db", kind="postgres", name="db", evidence=[EV]),
    Edge: Edge(source="service:a", target="postgres:b", evidence=[EV]),
    CommandRef: CommandRef(command="git pull", evidence=EV),
    Action: Action(id="cmd:git/pull", verb="pull", tool="git", origin="command", command="git pull", evidence=[EV]),
    Owner: Owner(name="team-a", evidence=[EV]),
    Environment: Environment(name="prod", evidence=[EV]),
    UnresolvedEnvironments: UnresolvedEnvironments(entities=[], environments_found=[], signals_seen=[], settle=[],
                                                   question="which?"),
    Warning: Warning(path="a.md", message="cannot parse"),
    Inventory: Inventory(),
}

# What a field may hold once a model is made without validation (model_copy(update=...),
# model_construct): the declared shapes and others, each with a secret in it.
_SHAPES = {
    "string": f"git clone https://{GH}@github.com/acme/x",
    "secret-looking string": PW,
    "list of strings": ["x", f"PGPASSWORD={PW}"],
    "evidence": Evidence(path=f"envs/url=postgres://app:{PW}@db.internal/app.env", line=1),
    "list of evidence": [EV, Evidence(path=f"envs/url=postgres://app:{PW}@db.internal/app.env", line=2)],
    "dict under a secret key": {"db_password": PW},
    "name/value dict": {"name": "DB_PASSWORD", "value": PW},
    "nested lists": [[PW, ["y"]], (f"token={GH}",)],
    "fact": Fact(name="api_token", value=PW, evidence=[EV]),
    "list of models": [CommandRef(command=f"curl -H 'Authorization: Bearer {GH}' https://x", evidence=EV)],
    "dict with a non-string key": {3: f"x {GH}"},
}


def _dumped_pairs(obj: object, key: str | None, out: set) -> None:
    """(key, string) of every string :func:`_scrub` judges in a ``model_dump`` (as _keyed_strings, for any dump)."""
    if isinstance(obj, str):
        out.add((key, obj))
    elif isinstance(obj, dict):
        name = obj.get("name")
        pair_key = name if isinstance(name, str) and "value" in obj else None
        for k, v in obj.items():
            if isinstance(k, str):
                out.add((None, k))
            _dumped_pairs(v, pair_key if (k == "value" and pair_key) else (k if isinstance(k, str) else None), out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _dumped_pairs(v, key, out)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic warns when it dumps a value not of the field's type
@pytest.mark.parametrize("cls", list(_SAMPLES), ids=lambda c: c.__name__)
def test_every_field_of_every_model_is_judged_whatever_it_holds(cls: type) -> None:
    """The generated per-class walkers see a secret in any field, whatever shape the value has."""
    for field in cls.model_fields:
        for shape, value in _SHAPES.items():
            if cls is Evidence and (field != "path" or not isinstance(value, str)):
                continue  # judged by its path alone, taken to be a string (Evidence is frozen, made validated)
            obj = _SAMPLES[cls].model_copy(update={field: value})
            pairs: set = set()
            _dumped_pairs(obj.model_dump(mode="python"), None, pairs)
            free, keyed = _judged_strings(obj)
            # Everything the dump holds (it drops what a field's serialiser cannot lay out; the walk does not).
            assert {(k, v) for k, v in pairs if _secretish(k)} <= keyed, (field, shape)
            assert {v for k, v in pairs if not _secretish(k)} <= free, (field, shape)
            # A bare secret-looking string is masked only under a secret key; every other shape holds a token.
            masks = shape != "secret-looking string" or _walk_masks(obj)
            assert _masks_any_model(obj) is masks, (field, shape)
            held = Inventory(components=[_component()]).model_copy(update={"warnings": [obj]})
            assert _masks_any_model(held) is masks, (field, shape)


def test_the_samples_cover_every_model_an_inventory_holds() -> None:
    from inventory.secrets import _walker_code

    _, walked = _walker_code(Inventory)
    assert {cls for cls, _ in walked} | {Evidence} == set(_SAMPLES)
