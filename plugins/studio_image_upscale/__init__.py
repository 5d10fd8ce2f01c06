"""Studio's built-in upscaler: x2/x4 with the ncnn Real-CUGAN, waifu2x and Real-ESRGAN models.

- :mod:`.plugin`: :class:`~studio_image_upscale.plugin.NcnnUpscaler` (options, known models,
  inputs, recipes).
- :mod:`.engines`: model folders recognised by their files, tiled runs on the CPU with progress
  and cancel between tiles, scales reached in two passes.
- :mod:`.quiet_cv2`: imports the ncnn packages (which import ``cv2``) without letting OpenCV
  change Qt's environment variables.

Importing this package imports no ncnn package, OpenCV or Pillow.
"""
