"""Kubernetes resource quantities ("500m", "0.5", "128Mi", "1G", "1e3"), exactly.

A quantity is a decimal number with an optional suffix: a binary SI one
(Ki Mi Gi Ti Pi Ei, powers of 1024), a decimal SI one (n u m "" k M G T P E, powers
of 1000) or a decimal exponent (``e3``, ``E-2``). The value is held as a
:class:`fractions.Fraction`, never a float, so "0.1" + "0.2" is exactly "0.3" and
"128Mi" is exactly 134217728.

Worked example: "1.5Gi" -> mantissa 3/2, suffix Gi = 1024**3 -> 1610612736.
Kubernetes' own ambiguity is kept: a bare "E" is exa (10**18), "1E3" is 1000.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

import attrs

_BINARY = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
# number: optional sign, digits with at most one dot and at least one digit;
# suffix: a known SI suffix or an exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
# Larger exponents than this describe no machine; refusing them keeps a hostile
# "1e999999999" from costing unbounded time and memory.
_MAX_EXPONENT = 100
_EXPECTED = (
    "must be a number with an optional suffix (Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, "
    "T, P, E) or exponent (e.g. 1e3), such as '500m', '0.5', '128Mi' or '1G'"
)


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity; the message says what is allowed.

    ``detail`` is the same explanation without the offending text, for field errors.
    """

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail or message


@attrs.frozen(eq=False)
class Quantity:
    """An exact quantity. ``text`` is kept so a manifest serialises back unchanged;
    equality, ordering and hashing use the numeric ``value``."""

    value: Fraction
    text: str

    @classmethod
    def parse(cls, raw: str | int | float) -> Quantity:
        if type(raw) is str:
            return _parse_text(raw)  # the same few texts recur constantly: cached
        return cls._parse(raw)

    @classmethod
    def _parse(cls, raw: str | int | float) -> Quantity:
        if isinstance(raw, bool):
            raise QuantityError(f"{raw!r} is not a quantity")
        if isinstance(raw, int):
            return cls(Fraction(raw), str(raw))
        if isinstance(raw, float) and math.isfinite(raw):
            # An unquoted YAML/JSON number such as `cpu: 0.5`: Kubernetes parses the
            # number's text. The shortest repr of the double is that text's value
            # ("0.5"; "1e3" -> "1000.0"), parsed exactly from there.
            return cls._parse(repr(raw).removesuffix(".0") if raw.is_integer() else repr(raw))
        if not isinstance(raw, str):
            raise QuantityError(f"{raw!r} is not a quantity: expected a string or an integer")
        match = _QUANTITY.fullmatch(raw)
        if match is None:
            raise QuantityError(f'"{raw}" is not a quantity: {_EXPECTED}', _EXPECTED)
        number, suffix = match["number"], match["suffix"] or ""
        mantissa = Fraction(number)
        if suffix in _BINARY:
            multiplier = Fraction(_BINARY[suffix])
        elif suffix in _DECIMAL:
            multiplier = _DECIMAL[suffix]
        else:
            exponent = int(suffix[1:])
            if abs(exponent) > _MAX_EXPONENT:
                detail = f"exponent {exponent} is out of range (at most {_MAX_EXPONENT})"
                raise QuantityError(f'"{raw}": {detail}', detail)
            multiplier = Fraction(10) ** exponent
        return cls(_to_nano(mantissa * multiplier), raw)

    @classmethod
    def from_value(cls, value: Fraction | int, *, binary: bool = False) -> Quantity:
        """A quantity whose text is the canonical form of ``value``."""
        value = Fraction(value)
        return cls(value, format_canonical(value, binary=binary))

    def milli(self) -> int:
        """The value in thousandths, rounded up (Kubernetes' ``MilliValue``)."""
        return math.ceil(self.value * 1000)

    def ceil(self) -> int:
        """The value rounded up to an integer (Kubernetes' ``Value``)."""
        return math.ceil(self.value)

    def canonical(self) -> str:
        """The text Kubernetes stores for this quantity: "0.5" -> "500m",
        "1024Mi" -> "1Gi", 3 -> "3". Binary suffixes stay binary where exact."""
        return _canonical_text(self.value, self.text.endswith("i"))

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __gt__(self, other: Quantity) -> bool:
        return self.value > other.value

    def __ge__(self, other: Quantity) -> bool:
        return self.value >= other.value

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity.from_value(self.value + other.value)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity.from_value(self.value - other.value)


@functools.lru_cache(maxsize=4096)
def _parse_text(raw: str) -> Quantity:
    return Quantity._parse(raw)


def _to_nano(value: Fraction) -> Fraction:
    """Kubernetes keeps quantities to nano precision: finer values round up (away from
    zero), so "1.5n" is 2n and compares and serialises as such."""
    scaled = value * 10**9
    if scaled.denominator == 1:
        return value
    magnitude = math.ceil(abs(scaled))
    return Fraction(-magnitude if value < 0 else magnitude, 10**9)


@functools.lru_cache(maxsize=4096)
def _canonical_text(value: Fraction, binary: bool) -> str:
    return format_canonical(value, binary=binary)


def format_canonical(value: Fraction, *, binary: bool = False) -> str:
    """The shortest exact text for ``value``: "1500m" -> "1500m", 1536 -> "1536",
    binary 1073741824 -> "1Gi". Values finer than nano are rounded up, as Kubernetes does."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if binary and value.denominator == 1 and value:
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            if value.numerator % _BINARY[suffix] == 0:
                return f"{sign}{value.numerator // _BINARY[suffix]}{suffix}"
    if value.denominator != 1:
        for suffix in ("m", "u", "n"):
            scaled = value / _DECIMAL[suffix]
            if scaled.denominator == 1:
                return f"{sign}{scaled.numerator}{suffix}"
        return f"{sign}{math.ceil(value / _DECIMAL['n'])}n"
    number = value.numerator
    for suffix in ("E", "P", "T", "G", "M", "k"):
        factor = int(_DECIMAL[suffix])
        if number and number % factor == 0:
            return f"{sign}{number // factor}{suffix}"
    return f"{sign}{number}"
