"""Text deltas: diff then apply gives the new text back, and the splices stay small."""

from __future__ import annotations

import random

import pytest

from studio.core.project import text_delta
from studio.core.project.text_delta import Splice, apply, decode, diff, encode


def random_edit(rng: random.Random, text: str) -> str:
    start = rng.randrange(len(text) + 1)
    end = min(len(text), start + rng.choice((0, 0, 1, 3, 20)))
    inserted = "".join(rng.choice("ab c\néü😀") for _ in range(rng.choice((0, 1, 2, 12))))
    return text[:start] + inserted + text[end:]


@pytest.mark.parametrize("seed", range(40))
def test_diff_then_apply_gives_the_new_text_back(seed: int) -> None:
    rng = random.Random(seed)
    old = "".join(rng.choice("abc \n") for _ in range(rng.randrange(0, 3000)))
    new = old
    for _ in range(rng.randrange(1, 8)):
        new = random_edit(rng, new)
    delta = diff(old, new)
    assert apply(old, delta) == new
    assert apply(old, decode(encode(delta))) == new
    assert apply(new, diff(new, old)) == old


def test_equal_texts_have_an_empty_delta() -> None:
    assert diff("same", "same") == ()
    assert apply("same", ()) == "same"


def test_one_edit_is_one_small_splice() -> None:
    old = "word " * 10_000
    new = old[:20_000] + "INSERTED" + old[20_000:]
    assert diff(old, new) == (Splice(20_000, 20_000, "INSERTED"),)


def test_edits_far_apart_in_a_long_text_stay_small() -> None:
    lines = [f"line {n} of a long document\n" for n in range(5000)]
    old = "".join(lines)
    lines[3] = "line 3 was changed\n"
    lines[4990] = "line 4990 was changed too\n"
    new = "".join(lines)
    delta = diff(old, new)
    assert apply(old, delta) == new
    # Two small splices, not the 100 KB between the two edits.
    assert len(delta) == 2 and len(encode(delta)) < 100


def test_edits_far_apart_in_one_long_paragraph_stay_small() -> None:
    words = [f"word{n}" for n in range(20_000)]
    old = " ".join(words)
    words[10] = "changed"
    words[19_990] = "changed too"
    new = " ".join(words)
    delta = diff(old, new)
    assert apply(old, delta) == new
    assert len(delta) == 2 and len(encode(delta)) < 100


def test_characters_outside_the_basic_plane_count_as_one() -> None:
    old, new = "a😀b", "a😀xb"
    assert diff(old, new) == (Splice(2, 2, "x"),)


@pytest.mark.parametrize(
    "bad",
    ['{"a": 1}', "[[1, 2]]", '[[1, "2", "x"]]', '[[true, 2, "x"]]', "not json"],
)
def test_decode_refuses_what_is_not_a_delta(bad: str) -> None:
    with pytest.raises(ValueError):
        decode(bad)


def test_apply_refuses_splices_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        apply("short", (Splice(3, 10, ""),))
    with pytest.raises(ValueError, match="does not fit"):
        apply("short", (Splice(3, 4, ""), Splice(1, 2, "")))  # out of order


def test_long_changed_middle_is_compared_by_words() -> None:
    old = "\n".join(f"{n}" for n in range(400))
    new = old.replace("\n17\n", "\n17 changed\n").replace("\n390\n", "\n\n")
    assert len(old) > text_delta.WORD_DIFF_THRESHOLD
    delta = diff(old, new)
    assert apply(old, delta) == new
    assert sum(len(s.text) for s in delta) <= len(" changed")
