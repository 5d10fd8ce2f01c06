"""3x5 block letters: ``render("HI")`` returns five lines of ``#`` and spaces."""

from __future__ import annotations

__version__ = "1.0.0"

HEIGHT = 5

# Each glyph: five rows of three cells, top to bottom ("1" drawn, "0" blank).
GLYPHS = {
    "A": "010 101 111 101 101",
    "B": "110 101 110 101 110",
    "C": "011 100 100 100 011",
    "D": "110 101 101 101 110",
    "E": "111 100 110 100 111",
    "F": "111 100 110 100 100",
    "G": "011 100 101 101 011",
    "H": "101 101 111 101 101",
    "I": "111 010 010 010 111",
    "J": "001 001 001 101 010",
    "K": "101 101 110 101 101",
    "L": "100 100 100 100 111",
    "M": "101 111 111 101 101",
    "N": "110 101 101 101 101",
    "O": "010 101 101 101 010",
    "P": "110 101 110 100 100",
    "Q": "010 101 101 110 011",
    "R": "110 101 110 101 101",
    "S": "011 100 010 001 110",
    "T": "111 010 010 010 010",
    "U": "101 101 101 101 111",
    "V": "101 101 101 101 010",
    "W": "101 101 111 111 101",
    "X": "101 101 010 101 101",
    "Y": "101 101 010 010 010",
    "Z": "111 001 010 100 111",
    "0": "111 101 101 101 111",
    "1": "010 110 010 010 111",
    "2": "110 001 010 100 111",
    "3": "110 001 010 001 110",
    "4": "101 101 111 001 001",
    "5": "111 100 110 001 110",
    "6": "011 100 111 101 111",
    "7": "111 001 010 010 010",
    "8": "111 101 111 101 111",
    "9": "111 101 111 001 110",
    " ": "000 000 000 000 000",
    "!": "010 010 010 000 010",
    "?": "110 001 010 000 010",
    ".": "000 000 000 000 010",
    ",": "000 000 000 010 100",
    "-": "000 000 111 000 000",
    "'": "010 010 000 000 000",
    ":": "000 010 000 010 000",
}


def render(text: str, ink: str = "#") -> str:
    """``text`` in block letters (lower case drawn as upper case; unknown characters as
    ``?``), one line of letters per line of ``text``."""
    blocks = []
    for line in text.upper().splitlines() or [""]:
        rows = [[] for _ in range(HEIGHT)]
        for char in line:
            glyph = GLYPHS.get(char, GLYPHS["?"]).split()
            for row, cells in zip(rows, glyph, strict=True):
                row.append("".join(ink if c == "1" else " " for c in cells))
        blocks.append("\n".join(" ".join(row).rstrip() for row in rows))
    return "\n\n".join(blocks)
