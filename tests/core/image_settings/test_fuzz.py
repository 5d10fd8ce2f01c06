"""Generated chunks, truncations and bombs never crash a reader: whatever the bytes, reading
an image's settings returns settings, None, or one UserError sentence."""

from __future__ import annotations

import contextlib
import json
import struct
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.errors import UserError
from studio.core.image_settings import read_image_settings
from tests.core.image_settings.builders import chunk, plain_png, png_with, text_chunk, tiff

BASE = plain_png()
KEYS = ["parameters", "prompt", "workflow", "Dream", "sd-metadata", "invokeai_metadata",
        "Comment", "Software", "Description", "fooocus_scheme", "studio-recipe"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def read(data: bytes) -> None:
    with contextlib.suppress(UserError):  # one sentence, never another exception
        read_image_settings(data)


fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=200)), max_size=6),
       st.sampled_from(["tEXt", "zTXt", "iTXt"]))  # fmt: skip
def test_text_chunks_of_any_text(pairs, kind):
    texts = [(k, v.encode("latin-1", "replace").decode("latin-1")) for k, v in pairs]
    read(png_with(*(text_chunk(k, v, kind) for k, v in texts)))


@fast
@given(st.sampled_from(["prompt", "workflow", "invokeai_metadata", "sd-metadata", "parameters",
                        "Comment"]), json_values)  # fmt: skip
def test_json_of_any_shape(key, value):
    texts = [text_chunk(key, json.dumps(value)), text_chunk("Software", "NovelAI")]
    read(png_with(*texts, text_chunk("fooocus_scheme", "fooocus")))


@fast
@given(st.binary(max_size=300), st.sampled_from([b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"IDAT"]),
       st.integers(0, 2**32 - 1))  # fmt: skip
def test_raw_chunks_with_lying_lengths_and_crcs(body, kind, declared):
    lying = struct.pack(">I", declared) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    read(png_with(chunk(kind, body), lying))


@fast
@given(st.integers(0, 4000))
def test_every_truncation(cut):
    graph = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "positive": ["3", 0]}}}
    data = png_with(
        text_chunk("prompt", json.dumps(graph)), text_chunk("parameters", "a\nSteps: 1")
    )
    read(data[:cut])


@fast
@given(st.binary(max_size=400))
def test_exif_of_any_bytes_in_jpeg_and_webp_containers(block):
    read(b"\xff\xd8\xff\xe1" + struct.pack(">H", len(block) + 8) + b"Exif\x00\x00" + block)
    read(
        b"RIFF"
        + struct.pack("<I", len(block) + 12)
        + b"WEBPEXIF"
        + struct.pack("<I", len(block))
        + block
    )
    read(png_with(chunk(b"eXIf", tiff({0x010E: (2, block + b"\x00")}))))


def test_a_graph_that_links_to_itself_and_deep_chains_end():
    loop = {"1": {"class_type": "KSampler", "inputs": {"latent_image": ["2", 0], "model": ["2", 0],
                                                       "positive": ["2", 0]}},
            "2": {"class_type": "LatentUpscale", "inputs": {"samples": ["1", 0], "model": ["1", 0],
                                                            "conditioning": ["1", 0]}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}  # fmt: skip
    chain = {
        str(i): {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": [str(i + 1), 0]}}
        for i in range(10, 5000)
    }
    loop["1"]["inputs"]["negative"] = ["10", 0]
    read(png_with(text_chunk("prompt", json.dumps(loop | chain))))
