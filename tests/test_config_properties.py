"""Property test: any single invalid edit of a valid config is rejected with a ConfigError that
names the edited key (or, for a new or missing key, the mapping that holds it); never another
exception, never an invalid config accepted. The workflow's own check (Snakemake's validate)
reports the same errors in the same `config key '...'` form."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gcnc.study.config import ConfigError, validate_config, workflow_config


def _paths(obj: Any, path: tuple = ()) -> tuple[list[tuple], list[tuple]]:
    """(leaf paths, mapping paths) of a nested config."""
    leaves, maps = [], []
    if isinstance(obj, dict):
        maps.append(path)
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return [path], []
    for k, v in items:
        sub_leaves, sub_maps = _paths(v, (*path, k))
        leaves += sub_leaves
        maps += sub_maps
    return leaves, maps


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _key(path: tuple) -> str:
    return "/".join(str(p) for p in path) or "<top level>"


def _bad_value(value: Any, kind: int) -> Any:
    """A replacement that no key of the schema accepts for a leaf holding ``value``."""
    if isinstance(value, (bool, str)):
        return [{"not": "valid"}, 7.5][kind % 2]
    return [-1, "many", float("nan"), float("inf"), None][kind % 5]


def _expect_error(config: dict, *keys: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert any(f"'{k}" in str(err.value) for k in keys), (keys, str(err.value))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_invalid_leaf_is_named(config, data):
    cfg = copy.deepcopy(config)
    leaves, _ = _paths(cfg)
    path = data.draw(st.sampled_from(leaves))
    kind = data.draw(st.integers(0, 9))
    _get(cfg, path[:-1])[path[-1]] = _bad_value(_get(cfg, path), kind)
    # the edited key itself, or a mapping above it (a list item's type is named at the list)
    _expect_error(cfg, *[_key(path[:i]) for i in range(len(path), 0, -1)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(["bogus", "epoch", "lr_decay", "Seeds"]))
def test_unknown_key_is_named(config, data, name):
    cfg = copy.deepcopy(config)
    _, maps = _paths(cfg)
    path = data.draw(st.sampled_from(maps))
    _get(cfg, path)[name] = 1
    _expect_error(cfg, _key(path), _key((*path, name)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_removed_key_is_named_or_harmless(config, data):
    """Dropping a key either leaves a valid config (it was optional) or names its mapping."""
    cfg = copy.deepcopy(config)
    _, maps = _paths(cfg)
    path = data.draw(st.sampled_from([m for m in maps if _get(cfg, m)]))
    mapping = _get(cfg, path)
    key = data.draw(st.sampled_from(sorted(mapping)))
    del mapping[key]
    try:
        validate_config(cfg)
    except ConfigError as err:
        # its mapping (a required key), or the key itself where another key refers to it
        named = [f"'{_key(path[:i])}" for i in range(len(path), -1, -1)] + [f"'{key}'"]
        assert any(k in str(err) for k in named), str(err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), edit=st.sampled_from(["value", "unknown key", "removed key"]))
def test_the_workflow_names_the_key_of_every_schema_error(config, data, edit):
    """What Snakemake reports when params.yaml does not fit the schema (workflow_config, which
    also fills the schema's defaults) is a ConfigError `config key '<key>': ...`, never
    Snakemake's raw validation message."""
    cfg = copy.deepcopy(config)
    leaves, maps = _paths(cfg)
    if edit == "value":
        path = data.draw(st.sampled_from(leaves))
        _get(cfg, path[:-1])[path[-1]] = _bad_value(_get(cfg, path), data.draw(st.integers(0, 9)))
    elif edit == "unknown key":
        _get(cfg, data.draw(st.sampled_from(maps)))["bogus"] = 1
    else:
        mapping = _get(cfg, data.draw(st.sampled_from([m for m in maps if _get(cfg, m)])))
        del mapping[data.draw(st.sampled_from(sorted(mapping)))]
    try:
        workflow_config(cfg)
    except ConfigError as err:
        assert str(err).startswith("config key '"), str(err)
