"""Studio's built-in writing plugin: causal language models through Hugging Face transformers.

- :mod:`.plugin`: the :class:`~studio_writer_transformers.plugin.TransformersWriter` plugin
  (options, the embedded Gemma 3 270M, load and run).
- :mod:`.loading`: model folders, single ``.gguf`` files, pickle-only folders, and the float32
  copy a GGUF is converted into once so that later loads take seconds.
- :mod:`.generation`: prompts (continue, instruct, chat templates), streaming, stop strings,
  cancel and variations.

Importing this package imports neither torch nor transformers; the modules do so inside their
functions.
"""
