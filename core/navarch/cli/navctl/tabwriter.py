"""Go's text/tabwriter as kubectl's describe uses it (padding 2, spaces, no flags), so
text written kubectl's way (``Label:\\tvalue`` lines, indented by spaces) comes out
aligned exactly as kubectl aligns it.

The rule: a cell is text ending in a tab; a column is a run of consecutive lines
that all have a cell at that position, as wide as its widest cell plus the padding.
Indentation is part of the first cell, so lines of different depths align together
(kubectl's ``Environment:`` under a container lines up with ``Volumes:`` under the
template); a line without a tab ends every column above it. :data:`FLUSH` ends them
too, as kubectl's ``w.Flush()`` before an Events table does.
"""

from __future__ import annotations

from collections.abc import Sequence

PADDING = 2
FLUSH = "\x00flush"


def tabwrite(lines: Sequence[str]) -> str:
    """``lines`` (no newlines in them) aligned; FLUSH lines separate blocks."""
    out: list[str] = []
    block: list[str] = []
    for line in [*lines, FLUSH]:
        if line == FLUSH:
            out += _aligned([text.split("\t") for text in block])
            block = []
        else:
            block.append(line)
    return "".join(text + "\n" for text in out)


def _aligned(rows: list[list[str]]) -> list[str]:
    widths: list[list[int]] = [[] for _ in rows]  # per row, the widths of its columns

    def format(first: int, last: int, column: int, known: list[int]) -> None:
        row = first
        while row < last:
            if column >= len(rows[row]) - 1:  # no cell here: the row is settled
                widths[row] = known
                row += 1
                continue
            start, width = row, 0
            while row < last and column < len(rows[row]) - 1:
                width = max(width, len(rows[row][column]) + PADDING)
                row += 1
            format(start, row, column + 1, [*known, width])

    format(0, len(rows), 0, [])
    return [
        "".join(cell.ljust(width) for cell, width in zip(cells, known, strict=False)) + cells[-1]
        if len(cells) > 1
        else cells[0]
        for cells, known in zip(rows, widths, strict=True)
    ]
