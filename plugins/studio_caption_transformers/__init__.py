"""Studio's built-in captioning plugin: image-to-text models through Hugging Face transformers.

- :mod:`.plugin`: the :class:`~studio_caption_transformers.plugin.TransformersCaptioner` plugin
  (options, load and run).
- :mod:`.loading`: BLIP, BLIP-2, VisionEncoderDecoder (ViT-GPT2) and image-text-to-text model
  folders, loaded offline and safely.
- :mod:`.captioning`: caption and question prompts, prefixes, words to avoid, cancel.
- :mod:`.images`: opening any image (animated, 16-bit, transparent, huge) as RGB.

Importing this package imports neither torch nor transformers.
"""
