"""Studio's embedded describer: the text in an image (RapidOCR) and what it shows (ImageNet tags).

- :mod:`.plugin`: the :class:`~studio_caption_ocr_tags.plugin.OcrTagsDescriber` plugin (options,
  where the embedded models are, load and run).
- :mod:`.describer`: the raw path: load both models, read an image's text in reading order, tag
  it, and put the two together into one plain sentence.
- :mod:`.images`: opening any image a person drops (animated, 16-bit, transparent, huge) as RGB.

Importing this package imports neither torch nor onnxruntime nor OpenCV.
"""
