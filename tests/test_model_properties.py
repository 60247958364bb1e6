"""Property tests: serialise -> parse is the identity for every kind of the object model.

Strategies are derived from the model classes themselves (attrs fields and their type
hints), so a field added to the model is covered without touching this file.
"""

from __future__ import annotations

import typing
from typing import Any

import attrs
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from navarch.api import dump, load
from navarch.api.quantity import Quantity
from navarch.api.schema import Model, _plan
from navarch.resources.core import CORE_RESOURCES

_text = st.text(max_size=12)
_int = st.integers(min_value=-(2**53), max_value=2**53)
_json = st.recursive(
    st.none() | st.booleans() | _int | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=8,
)
_quantity = st.builds(
    lambda sign, whole, frac, suffix: Quantity.parse(f"{sign}{whole}{frac}{suffix}"),
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 10**6).map(str),
    st.sampled_from(["", ".5", ".25", ".001"]),
    st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "E-2", "n", "u"]),
)


def strategy_for(tp: Any, depth: int = 0) -> st.SearchStrategy:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if options == [int, str]:
            return st.none() | _int | _text
        return st.none() | strategy_for(options[0], depth)
    if isinstance(tp, type) and issubclass(tp, Model):
        return model_strategy(tp, depth + 1)
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(tp)[0], depth), max_size=2).map(tuple)
    if origin is dict:
        inner = strategy_for(typing.get_args(tp)[1], depth)
        return st.dictionaries(_text, inner, max_size=2)
    return {str: _text, int: _int, bool: st.booleans(), Quantity: _quantity, Any: _json}[tp]


def model_strategy(cls: type[Model], depth: int = 0) -> st.SearchStrategy:
    fields = {}
    for field in _plan(cls):
        inner = strategy_for(field.type, depth)
        fields[field.attr] = st.none() if depth > 6 else inner
    unmodeled = (
        st.dictionaries(st.sampled_from(sorted(cls.KUBERNETES_ONLY)), _json, max_size=2)
        if cls.KUBERNETES_ONLY
        else st.just({})
    )
    return st.builds(cls, **fields, unmodeled=unmodeled)


def top_level_strategy(cls) -> st.SearchStrategy:
    return model_strategy(cls).map(
        lambda obj: attrs.evolve(obj, api_version=cls.API_VERSION, kind=cls.KIND)
    )


def _all_models(cls=Model):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_models(sub)


def test_unmodeled_names_never_collide_with_modeled_ones():
    checked = 0
    for cls in _all_models():
        modeled = {f.wire for f in _plan(cls)}
        assert not modeled & cls.KUBERNETES_ONLY, cls
        checked += 1
    assert checked > 40


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.one_of([top_level_strategy(res.model) for res in CORE_RESOURCES]))
def test_serialise_then_parse_is_identity(obj):
    wire = orjson.loads(orjson.dumps(dump(obj)))  # through real JSON bytes
    back = load(wire, defaults=False, check=False).obj
    assert back == obj
    assert dump(back) == dump(obj)  # quantity texts and unmodeled fields preserved too


@PROPERTY
@given(
    st.sampled_from(CORE_RESOURCES).flatmap(
        lambda res: st.lists(top_level_strategy(res.model), max_size=3).map(
            lambda items: res.list_model(
                api_version=res.group_version, kind=f"{res.kind}List", items=tuple(items)
            )
        )
    )
)
def test_list_kinds_round_trip(obj):
    wire = orjson.loads(orjson.dumps(dump(obj)))
    back = load(wire, defaults=False, check=False).obj
    assert back == obj
