"""Fixtures the core tests share: the tiny models (built once per session) and a machine full
of other tools' model folders."""

from tests.fixtures.tiny_models import (  # noqa: F401 (fixtures)
    tiny_causal_lm_dir,
    tiny_causal_lm_gguf,
    tiny_sd_dir,
)
from tests.model_homes import machine  # noqa: F401 (fixture)
