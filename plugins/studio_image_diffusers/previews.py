"""Step previews: the cheap linear latent-to-RGB approximation.

Decoding latents with the VAE costs about as much as a step; a 4x3 matrix that maps each latent
pixel to a colour costs nothing and shows the composition taking shape (the factors are the
ones ComfyUI and A1111 use for their "approximate" previews). The preview is 1/8 of the image's
size, which the panel scales up.
"""

from __future__ import annotations

import io
from typing import Any

# Rows: the 4 latent channels; columns: R, G, B. Applied to latents in the UNet's space.
SD_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)
SD_BIAS = (0.0, 0.0, 0.0)
SDXL_FACTORS = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_BIAS = (0.1084, -0.0175, -0.0011)

_TABLES = {"sd": (SD_FACTORS, SD_BIAS), "sdxl": (SDXL_FACTORS, SDXL_BIAS)}


def latents_to_rgb(latents: Any, family: str) -> Any:
    """A uint8 ``(height, width, 3)`` torch tensor from one latent ``(4, h, w)`` (or the first
    of a batch), by the family's linear approximation."""
    import torch

    if latents.ndim == 4:
        latents = latents[0]
    factors, bias = _TABLES[family]
    matrix = torch.tensor(factors, dtype=torch.float32)
    offset = torch.tensor(bias, dtype=torch.float32)
    flat = latents[:4].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->hwr", flat, matrix) + offset
    return ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)


def preview_png(latents: Any, family: str) -> bytes:
    """The preview of ``latents`` as PNG bytes (fast compression: it is shown, not kept)."""
    from PIL import Image

    pixels = latents_to_rgb(latents, family).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
