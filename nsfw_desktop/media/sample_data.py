"""Sample models and photos made on the spot, for benchmarks, tests and the bundle's smoke test:
a full-size ViT-B/16 or a tiny ViT, and camera-like JPEGs.

Model weights cannot be downloaded everywhere, so benchmarks build a
ViT-B/16 with Falconsai's architecture and preprocessing but random weights:
the same cost per image as the real model. The photos are 12-megapixel JPEGs
with smooth structure, sensor-like noise and EXIF orientation tags, so decoding
costs what a camera's files cost.

    python -m nsfw_desktop.media.sample_data --model DIR --photos DIR --count 60
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

CAMERA_SIZE = (4000, 3000)  # 12 megapixels


VIT_B16 = dict(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12,
               num_attention_heads=12, intermediate_size=3072)
TINY_VIT = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64)


def make_vit(folder: str | Path, architecture: dict = VIT_B16, *, labels=("normal", "nsfw"),
             seed: int = 0, head_scale: float = 1.0) -> Path:
    """Save a randomly initialised ViT classifier with Falconsai's preprocessing
    (plain resize, bilinear, mean/std 0.5) as safetensors; kept if already there.

    ``head_scale`` enlarges the classifier head: random init leaves it near zero,
    so every score sits near 0.5 unless it is spread out.
    """
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    folder = Path(folder)
    if (folder / "model.safetensors").exists():
        return folder
    torch.manual_seed(seed)
    config = ViTConfig(**architecture, id2label=dict(enumerate(labels)),
                       label2id={label: i for i, label in enumerate(labels)})
    model = ViTForImageClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(head_scale)
    model.save_pretrained(folder)
    size = architecture["image_size"]
    ViTImageProcessorPil(size={"height": size, "width": size}, image_mean=[0.5] * 3,
                         image_std=[0.5] * 3).save_pretrained(folder)
    return folder


def make_vit_b16(folder: str | Path, *, head_scale: float = 1.0) -> Path:
    """A random ViT-B/16 at 224 px (normal/nsfw): Falconsai's architecture and cost.
    ``head_scale`` spreads the scores (see ``make_vit``); keep one folder per value."""
    return make_vit(folder, VIT_B16, head_scale=head_scale)


def camera_photo(seed: int, size: tuple[int, int] = CAMERA_SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    picture = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    noise = rng.normal(0, 6, (size[1], size[0], 1)).astype(np.int16)
    return Image.fromarray(np.clip(picture + noise, 0, 255).astype(np.uint8))


def make_camera_jpegs(folder: str | Path, count: int, *, size: tuple[int, int] = CAMERA_SIZE,
                      quality: int = 90) -> list[Path]:
    """``count`` camera-like JPEGs (kept if already there); every third is EXIF-rotated."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:04d}.JPG"
        if not path.exists():
            exif = Image.Exif()
            exif[0x0110] = "Benchmark Camera"  # Model
            exif[0x0112] = 6 if i % 3 == 0 else 1  # Orientation: 6 = rotate 90 degrees
            camera_photo(i, size).save(path, "JPEG", quality=quality, exif=exif)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="folder for a random ViT-B/16")
    parser.add_argument("--photos", type=Path, help="folder for camera-like JPEGs")
    parser.add_argument("--count", type=int, default=60)
    args = parser.parse_args()
    if args.model:
        print(make_vit_b16(args.model))
    if args.photos:
        print(f"{len(make_camera_jpegs(args.photos, args.count))} photos in {args.photos}")


if __name__ == "__main__":
    main()
