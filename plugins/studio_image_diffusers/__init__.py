"""Studio's built-in image plugin: Stable Diffusion (1.x, 2.x, SDXL) through diffusers.

- :mod:`.plugin`: the :class:`~studio_image_diffusers.plugin.DiffusersImage` plugin (options,
  load, run).
- :mod:`.loading`: diffusers model folders, offline and safely; the pipelines for each mode
  sharing one set of weights; the schedulers offered.
- :mod:`.generation`: text-to-image, image-to-image and inpainting runs with step previews,
  cancel from ``callback_on_step_end`` and one result per image of a batch.
- :mod:`.previews`: the cheap linear latent-to-RGB approximation used for previews.

Importing this package imports neither torch nor diffusers; the modules do so inside their
functions.
"""
