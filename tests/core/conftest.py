"""Fixtures the core tests share: the tiny models (built once per session)."""

from tests.fixtures.tiny_models import (  # noqa: F401 (fixtures)
    tiny_causal_lm_dir,
    tiny_causal_lm_gguf,
    tiny_sd_dir,
)
