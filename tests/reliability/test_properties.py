"""Property-based tests of the readers that take bytes from outside (issue: "Nothing gets in"):
PNG text chunks, A1111 parameters, recipes, and project files. Whatever the input, each reader
answers or refuses with its own error; nothing else escapes, nothing hangs, and what Studio
writes it reads back.

A few hundred cases each in CI; ``bench/bench_properties.py`` runs 10,000 each
(``STUDIO_HYPOTHESIS_PROFILE=bench``).
"""

from __future__ import annotations

import functools
import json
import os
import struct
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.media import png_text
from studio.core.media.a1111 import parse_parameters
from studio.core.project import ProjectOpenError, ProjectStore
from studio.core.recipe import Recipe, RecipeError, RecipeInput
from studio.plugin_api.kinds import Panel
from tests.core.fixtures.media_samples import png_bytes

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "bench", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("STUDIO_HYPOTHESIS_PROFILE", "ci"))

PNG = png_bytes(width=4, height=3)
CHUNK_KINDS = st.sampled_from([b"tEXt", b"zTXt", b"iTXt", b"IHDR", b"IDAT", b"IEND", b"abcd"])


@st.composite
def chunks(draw) -> bytes:
    kind = draw(CHUNK_KINDS)
    if kind == b"zTXt" and draw(st.booleans()):
        body = draw(st.binary(max_size=20)) + b"\x00\x00" + zlib.compress(draw(st.binary()))
    else:
        body = draw(st.binary(max_size=300))
    length = len(body) if draw(st.integers(0, 9)) else draw(st.integers(0, 2**32 - 1))
    crc = zlib.crc32(kind + body) if draw(st.integers(0, 9)) else draw(st.integers(0, 2**32 - 1))
    return struct.pack(">I", length) + kind + body + struct.pack(">I", crc)


@st.composite
def png_files(draw) -> bytes:
    """A PNG's signature and header, then chunks of every kind, lengths and CRCs that may lie."""
    head = PNG[:33]  # signature and IHDR
    body = b"".join(draw(st.lists(chunks(), max_size=6)))
    tail = draw(st.sampled_from([b"", PNG[33:], draw(st.binary(max_size=64))]))
    return head + body + tail


@given(png_files())
def test_the_png_text_reader_reads_or_refuses_any_png(data: bytes) -> None:
    try:
        texts = png_text.read_texts(data)
    except png_text.PngError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in texts.items())


KEYWORDS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=79
)


@given(st.dictionaries(KEYWORDS, st.text(max_size=500), max_size=4))
def test_texts_written_into_a_png_read_back(texts: dict[str, str]) -> None:
    written = png_text.with_texts(PNG, texts)
    assert png_text.read_texts(written) == texts


@given(st.text(max_size=2000))
def test_a1111_parameters_parse_any_text(text: str) -> None:
    parsed = parse_parameters(text)
    assert isinstance(parsed.prompt, str)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
FINITE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
"""What a recipe holds (JSON has no infinities: a recipe refuses them when it is made)."""
RECIPE_KEYS = st.sampled_from(
    ["recipe_version", "origin", "panel", "plugin_id", "seed", "inputs", "request", "created_at"]
)


@given(
    st.one_of(
        st.text(max_size=300),
        JSON.map(json.dumps),
        st.dictionaries(RECIPE_KEYS, JSON, max_size=8).map(json.dumps),
        st.binary(max_size=300),
    )
)
def test_the_recipe_reader_reads_or_refuses_anything(text: str | bytes) -> None:
    try:
        recipe = Recipe.from_json_text(text)
    except RecipeError:
        return
    assert Recipe.from_json_text(recipe.to_json_text()) == recipe


@given(
    panel=st.sampled_from(list(Panel)),
    seed=st.integers(-(2**63), 2**63 - 1),
    request=st.dictionaries(st.text(max_size=20), FINITE_JSON, max_size=4),
    inputs=st.lists(st.tuples(st.text(max_size=30), st.text(max_size=10)), max_size=3),
)
def test_a_recipe_studio_writes_reads_back_equal(panel, seed, request, inputs) -> None:
    recipe = Recipe(
        panel=panel,
        plugin_id="plugin",
        seed=seed,
        request=request,
        inputs=tuple(RecipeInput(asset_id=a, role=r) for a, r in inputs),
    )
    assert Recipe.from_json_text(recipe.to_json_text()) == recipe


@functools.cache
def project_bytes() -> bytes:
    """A small project: three pictures and a document (made once)."""
    import tempfile

    from studio.plugin_api.kinds import AssetKind
    from tests.qt.asset_samples import add

    path = Path(tempfile.mkdtemp()) / "P.studio"
    with ProjectStore.create(path) as store:
        for index in range(3):
            add(store, AssetKind.IMAGE, png_bytes(width=5 + index), f"picture {index}")
        store.create_document("Notes")
    data = path.read_bytes()
    path.unlink()
    return data


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_opening_any_damaged_project_is_a_sentence_or_works(tmp_path: Path, edits, cut) -> None:
    data = bytearray(project_bytes())
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / f"case-{zlib.crc32(bytes(data))}.studio"
    path.write_bytes(bytes(data))
    try:
        with ProjectStore.open(path, read_only=True, background_check=False) as store:
            store.list_assets()
            store.integrity_check()
    except ProjectOpenError as exc:
        assert path.name in str(exc) and "\n" not in str(exc)
    finally:
        path.unlink()
