"""Label selectors: the string form, the structured form and matching."""

import pytest

from navarch.api import selectors
from navarch.api.selectors import Requirement, SelectorError, parse


def test_parses_the_full_grammar():
    sel = parse("app=web,tier!=db,env in (a,b),!legacy")
    assert sel.requirements == (
        Requirement("app", "In", ("web",)),
        Requirement("tier", "NotIn", ("db",)),
        Requirement("env", "In", ("a", "b")),
        Requirement("legacy", "DoesNotExist"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app==web", Requirement("app", "In", ("web",))),
        ("app", Requirement("app", "Exists")),
        (" env notin ( x , y ) ", Requirement("env", "NotIn", ("x", "y"))),
        ("example.com/tier=front", Requirement("example.com/tier", "In", ("front",))),
        ("gen>3", Requirement("gen", "Gt", ("3",))),
        ("gen<10", Requirement("gen", "Lt", ("10",))),
        ("app=", Requirement("app", "In", ("",))),
    ],
)
def test_parses_each_operator(text, expected):
    assert parse(text).requirements == (expected,)


def test_empty_selector_matches_everything():
    assert parse("").matches({})
    assert parse("").matches({"a": "b"})


MATCHES = [
    ("app=web,tier!=db,env in (a,b),!legacy", {"app": "web", "env": "a"}, True),
    ("app=web,tier!=db,env in (a,b),!legacy", {"app": "web", "env": "a", "tier": "db"}, False),
    ("app=web,tier!=db,env in (a,b),!legacy", {"app": "web", "env": "c"}, False),
    ("app=web,tier!=db,env in (a,b),!legacy", {"app": "web", "env": "b", "legacy": ""}, False),
    ("env notin (prod)", {}, True),  # NotIn matches objects without the key
    ("env", {"env": ""}, True),
    ("gen>3", {"gen": "4"}, True),
    ("gen>3", {"gen": "3"}, False),
    ("gen>3", {"gen": "x"}, False),
    ("gen<3", {}, False),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_matching(text, labels, expected):
    assert parse(text).matches(labels) is expected


BAD = [
    ("app=web,", "trailing ','"),
    ("app in a,b", "expected '('"),
    ("app in (a", "expected ',' or ')'"),
    ("app notin ()", "needs at least one value"),
    ("=web", "expected a label key"),
    ("app=web tier=db", "expected ',' between requirements"),
    ("-bad=x", "key '-bad'"),
    ("app=-x", "value '-x'"),
    ("gen>x", "is not an integer"),
    ("!", "expected a label key after '!'"),
    ("a==b==c", "expected ',' between requirements"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_selectors_say_what_is_wrong(text, message):
    with pytest.raises(SelectorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_structured_form():
    sel = selectors.from_match({"app": "web"}, [("env", "NotIn", ["prod"])])
    assert sel.matches({"app": "web", "env": "dev"})
    assert not sel.matches({"app": "web", "env": "prod"})
    assert str(sel) == "app=web,env!=prod"


def test_string_form_round_trips():
    text = "app=web,tier!=db,env in (a,b),!legacy,gen>3"
    assert str(parse(text)) == text
