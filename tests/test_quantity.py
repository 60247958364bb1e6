"""Resource quantities are parsed exactly (Fractions, never floats)."""

from fractions import Fraction

import pytest

from navarch.api.quantity import Quantity, QuantityError, format_canonical

VALID = [
    ("500m", Fraction(1, 2)),
    ("0.5", Fraction(1, 2)),
    (".5", Fraction(1, 2)),
    ("5.", Fraction(5)),
    ("1", Fraction(1)),
    ("+1", Fraction(1)),
    ("-1", Fraction(-1)),
    ("128Mi", Fraction(128 * 1024**2)),
    ("1.5Gi", Fraction(3 * 1024**3, 2)),
    ("1Ki", Fraction(1024)),
    ("2Ei", Fraction(2 * 1024**6)),
    ("1G", Fraction(10**9)),
    ("1k", Fraction(1000)),
    ("1M", Fraction(10**6)),
    ("3T", Fraction(3 * 10**12)),
    ("1P", Fraction(10**15)),
    ("1E", Fraction(10**18)),  # a bare E is exa, as in Kubernetes
    ("1e3", Fraction(1000)),
    ("1E3", Fraction(1000)),
    ("1e-3", Fraction(1, 1000)),
    ("12e+2", Fraction(1200)),
    ("100n", Fraction(1, 10**7)),
    ("7u", Fraction(7, 10**6)),
    ("0.1", Fraction(1, 10)),
    ("0", Fraction(0)),
    (3, Fraction(3)),
]


@pytest.mark.parametrize(("text", "value"), VALID)
def test_parses_exactly(text, value):
    q = Quantity.parse(text)
    assert q.value == value
    assert q.text == str(text)


def test_no_float_rounding():
    total = Quantity.parse("0.1") + Quantity.parse("0.2")
    assert total == Quantity.parse("300m")
    assert total.value == Fraction(3, 10)


INVALID = [
    "",
    " ",
    "1.5.5",
    "abc",
    "1Ki5",
    "--1",
    "1m5",
    "1ii",
    "1KiB",
    "1 Gi",
    "Gi",
    "1e",
    "e3",
    "1.2.3e4",
    "0x10",
    "1_000",
    "\u0661",
    "1\n",
    "1e999999999",
    True,
    None,
    float("nan"),
    [1],
]


@pytest.mark.parametrize("text", INVALID)
def test_rejects(text):
    with pytest.raises(QuantityError):
        Quantity.parse(text)


def test_error_explains_allowed_forms():
    with pytest.raises(QuantityError, match="such as '500m'"):
        Quantity.parse("12 apples")


@pytest.mark.parametrize(
    ("text", "milli", "ceil"),
    [
        ("500m", 500, 1),
        ("1", 1000, 1),
        ("1.0001", 1001, 2),
        ("1n", 1, 1),
        ("128Mi", 134217728000, 134217728),
    ],
)
def test_milli_and_ceil_round_up(text, milli, ceil):
    q = Quantity.parse(text)
    assert (q.milli(), q.ceil()) == (milli, ceil)


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        (Fraction(1, 2), False, "500m"),
        (Fraction(1536), False, "1536"),
        (Fraction(2000), False, "2k"),
        (Fraction(1024**3), True, "1Gi"),
        (Fraction(1, 10**9), False, "1n"),
        (Fraction(-3, 2), False, "-1500m"),
        (Fraction(1, 3), False, "333333334n"),
        (Fraction(0), False, "0"),
    ],
)
def test_canonical_format(value, binary, text):
    assert format_canonical(value, binary=binary) == text
    if value.denominator in (1, 2, 10**9):  # exact forms parse back to the same value
        assert Quantity.parse(text).value == value


def test_equality_is_by_value_and_text_is_kept():
    assert Quantity.parse("1000m") == Quantity.parse("1")
    assert hash(Quantity.parse("1000m")) == hash(Quantity.parse("1"))
    assert Quantity.parse("1Gi") > Quantity.parse("1G")
    assert str(Quantity.parse("1000m")) == "1000m"


@pytest.mark.parametrize(
    ("number", "value"),
    [
        (0.5, Fraction(1, 2)),
        (1.5, Fraction(3, 2)),
        (1e3, Fraction(1000)),
        (0.001, Fraction(1, 1000)),
    ],
)
def test_unquoted_numbers_are_quantities_as_in_kubernetes(number, value):
    """`cpu: 0.5` in a manifest is a JSON number; Kubernetes parses its text."""
    assert Quantity.parse(number).value == value
