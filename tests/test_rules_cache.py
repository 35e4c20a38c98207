"""The JSON copy of the bundled rules (made at install) loads the same rules as the YAML, and a
copy that does not match the YAML is never used."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import yaml

from generators.risk import rules as R


@pytest.fixture
def cache_path(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    monkeypatch.setattr(R, "_rules_cache_path", lambda: str(path))
    R.default_rules_data.cache_clear()
    yield path
    R.default_rules_data.cache_clear()


def _yaml_data() -> dict:
    text = resources.files("generators.risk").joinpath(R.RULES_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def test_written_copy_loads_the_same_rules(cache_path):
    assert R.write_rules_cache() is True
    assert cache_path.is_file()
    loaded = R.default_rules_data()
    assert loaded == _yaml_data()
    # Same order of keys too: the rules digest and the documents follow it.
    assert list(loaded) == list(_yaml_data())
    assert list(loaded["tools"]) == list(_yaml_data()["tools"])


def test_stale_copy_is_ignored(cache_path):
    R.write_rules_cache()
    cached = json.loads(cache_path.read_text(encoding="utf-8"))
    cached["data"]["classes"]["unknown"]["tier"] = "T0"  # a copy that says something else...
    cached["sha256"] = "0" * 64  # ...made from another rules.yaml
    cache_path.write_text(json.dumps(cached), encoding="utf-8")
    assert R.default_rules_data() == _yaml_data()


def test_copy_with_matching_digest_but_broken_json_is_ignored(cache_path):
    cache_path.write_text("{not json", encoding="utf-8")
    assert R.default_rules_data() == _yaml_data()


def test_missing_copy_falls_back_to_yaml(cache_path):
    assert not cache_path.exists()
    assert R.default_rules_data() == _yaml_data()
