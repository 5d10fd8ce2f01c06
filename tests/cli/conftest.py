"""Fixtures the command-line tests share: the tiny models and a machine full of other tools'
model folders."""

from tests.fixtures.tiny_models import (  # noqa: F401 (fixtures)
    tiny_causal_lm_dir,
    tiny_causal_lm_gguf,
)
from tests.model_homes import machine  # noqa: F401 (fixture)
