"""Helpers only Studio's built-in plugins share: not part of the plugin contract.

The versioned contract a plugin author codes against is :mod:`studio.plugin_api` (its
``API_VERSION``). What is here is the built-in plugins' own shared code: it may change in any
release without an API version change, so a third-party plugin must not import it (copy what
it needs instead). Built-in plugins (``plugins/``) may import it; Studio's own layers
(``studio.core``, ``studio.qt``, ``studio.ui``, the command line) and ``studio.plugin_api`` never
do (import-linter contracts in ``pyproject.toml``, ``tests/test_layers.py``).

- :mod:`studio.builtin_support.packaged_models`: the embedded Gemma 3 270M, assembled once
  from its chunk packages into Studio's cache (and :func:`~.packaged_models.file_sha256`).
- :mod:`studio.builtin_support.writing`: the run options, prompts and stop-string cutting the
  built-in writers (llama.cpp, transformers) share, so their recipes read alike.
- :mod:`studio.builtin_support.model_folders`: Hugging Face model folders (``config.json``,
  single or sharded weights, safetensors before pickle) as the transformers-based built-ins
  read them.
- :mod:`studio.builtin_support.cpu_features`: whether the CPU does bfloat16 fast (AMX or
  AVX-512 BF16, from ``/proc/cpuinfo``), for the torch plugins' ``auto`` number format.

Like :mod:`studio.plugin_api`, nothing here imports Qt, ``studio.core`` or a model library at
import time: only the standard library and :mod:`studio.plugin_api`.
"""
