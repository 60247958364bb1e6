"""Bytes on the wire: a Go ``[]byte`` field (a Secret's ``data``, a ConfigMap's
``binaryData``) travels as standard, padded base64, and Kubernetes decodes it with Go's
``encoding/base64`` while reading the JSON body.

:func:`decode` follows Go's ``base64.StdEncoding`` exactly — ``\\r`` and ``\\n`` are
skipped anywhere, padding is required, nothing may follow it — and a failure names the
byte offset Go names, so the message a client sees is Kubernetes' word for word
(``illegal base64 data at input byte 4``). Python's ``base64`` module accepts other
inputs (missing padding with ``validate=False``) and reports other offsets.
"""

from __future__ import annotations

import base64
import string

_ALPHABET = frozenset((string.ascii_letters + string.digits + "+/").encode())
_NEWLINES = (ord("\n"), ord("\r"))
_PAD = ord("=")


class IllegalBase64(ValueError):
    """Go's ``base64.CorruptInputError``: the byte offset of the first bad input."""

    def __init__(self, offset: int):
        self.offset = offset
        super().__init__(f"illegal base64 data at input byte {offset}")


def decode(text: str) -> bytes:
    """The bytes ``text`` encodes; raises :class:`IllegalBase64` where Go would."""
    src = text.encode()
    si = 0
    while si < len(src):
        si = _check_quantum(src, si)
    return base64.b64decode(src.replace(b"\n", b"").replace(b"\r", b""))


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_quantum(src: bytes, si: int) -> int:
    """Go's ``decodeQuantum`` without the output: the offset after one quantum of four
    characters (newlines skipped), or :class:`IllegalBase64`. Worked example: ``"abc"``
    ends inside its first quantum, so Go reports byte 0 (where that quantum began);
    ``"ab=c"`` has one ``=`` where two are needed: byte 2 (Go names the ``=``)."""
    j = 0
    while j < 4:
        if si == len(src):
            if j == 0:
                return si
            raise IllegalBase64(si - j)  # a quantum cut short (padding is required)
        char = src[si]
        si += 1
        if char in _ALPHABET:
            j += 1
            continue
        if char in _NEWLINES:
            continue
        if char != _PAD or j < 2:
            raise IllegalBase64(si - 1)  # not base64, or padding too early
        if j == 2:  # "==" expected, the first "=" consumed
            while si < len(src) and src[si] in _NEWLINES:
                si += 1
            if si == len(src):
                raise IllegalBase64(len(src))  # not enough padding
            if src[si] != _PAD:
                raise IllegalBase64(si - 1)
            si += 1
        while si < len(src) and src[si] in _NEWLINES:
            si += 1
        if si < len(src):
            raise IllegalBase64(si)  # something after the padding
        return si
    return si
