"""Reference outputs for Smile's PillowResize / ImageTransform tests, computed by Pillow (Debian's 9.4).

usage: pillow_resize_reference.py OUT_DIR

Writes into OUT_DIR:
  NAME.rgb                   a detailed seeded RGB test image (raw bytes, rows top to bottom, RGB interleaved)
  NAME_to_WxH.rgb            Image.resize((W, H), Image.BILINEAR) of it (reducing_gap None, no box)
  crop_K.rgb                 img.resize((R, R), BILINEAR) [.transpose(FLIP_LEFT_RIGHT)] .crop((j, i, j+C, i+C)):
                             the reference's Resize -> RandomHorizontalFlip -> RandomCrop for a given (flip, i, j)
  index.json                 {"pillow": version, "images": [...], "crops": [...]}

The images are not flat colour: sums of sinusoids of several frequencies and directions up to Nyquist,
seeded Gaussian noise, a checkerboard block, saturated rectangles and one-pixel lines, so that every
coefficient of the filters matters and clipping at 0 and 255 is exercised.
"""
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image

# (width, height, outputs): downscaling, upscaling, mixed, and the pass-skipping rules of
# ImagingResampleInner (same width: no horizontal pass; same height: no vertical pass; same size: copy).
CASES = [
    (500, 375, [(256, 256), (37, 37), (333, 200), (600, 120)]),
    (1000, 700, [(256, 256), (37, 37)]),
    (2000, 1300, [(256, 256), (37, 37)]),
    (300, 257, [(256, 256)]),
    (257, 256, [(256, 256)]),
    (100, 80, [(256, 256), (37, 37), (150, 60)]),
    (37, 53, [(256, 256), (37, 37)]),
    (255, 255, [(256, 256), (37, 37)]),
    (256, 300, [(256, 256)]),   # vertical pass only
    (300, 256, [(256, 256)]),   # horizontal pass only
    (256, 256, [(256, 256), (37, 37)]),  # copy; square downscale
    (1, 1, [(256, 256), (37, 37)]),
    (3, 2, [(256, 256), (37, 37)]),
    (640, 3, [(256, 256)]),
]

# (source case index, resize R, crop C, flip, i (top), j (left))
CROPS = [
    (0, 256, 224, False, 16, 16),
    (0, 256, 224, True, 16, 16),
    (0, 256, 224, True, 5, 27),
    (0, 256, 224, True, 0, 32),
    (0, 256, 224, False, 32, 0),
    (6, 37, 32, True, 2, 2),
    (6, 37, 32, True, 0, 5),
    (6, 37, 32, False, 5, 1),
    (2, 37, 32, True, 3, 1),
]


def make_image(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.empty((height, width, 3), dtype=np.float64)
    for c in range(3):
        v = np.full((height, width), 128.0)
        for _ in range(5):
            fx, fy = rng.uniform(-0.5, 0.5, 2)  # cycles per pixel, up to Nyquist
            scale = rng.choice([1.0, 0.2, 0.03])  # fine, medium and coarse detail
            v += rng.uniform(10, 45) * np.sin(2 * np.pi * (fx * scale * x + fy * scale * y) + rng.uniform(0, 2 * np.pi))
        v += rng.normal(0, 12, (height, width))
        img[..., c] = v
    # a checkerboard block (sharp edges at every cell)
    cell = int(rng.integers(1, 8))
    checker = ((x // cell + y // cell) % 2) == 0
    block = (x < max(1, width // 3)) & (y < max(1, height // 3))
    img[block & checker] = 255
    img[block & ~checker] = 0
    # saturated rectangles
    for _ in range(4):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(1, width // 5 + 2)), y0 + int(rng.integers(1, height // 5 + 2))
        img[y0:y1, x0:x1] = rng.choice([0, 255], 3)
    # one-pixel lines
    img[:, int(rng.integers(0, width))] = (255, 0, 128)
    img[int(rng.integers(0, height)), :] = (0, 255, 30)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = {"pillow": PIL.__version__, "images": [], "crops": []}
    sources = []
    for n, (w, h, outputs) in enumerate(CASES):
        name = f"img{n}_{w}x{h}"
        arr = make_image(w, h, 1000 + n)
        img = Image.fromarray(arr, "RGB")
        assert img.size == (w, h)
        sources.append((name, img))
        with open(os.path.join(out, name + ".rgb"), "wb") as f:
            f.write(arr.tobytes())
        entry = {"name": name, "width": w, "height": h, "file": name + ".rgb", "resizes": []}
        for ow, oh in outputs:
            res = img.resize((ow, oh), Image.BILINEAR)
            assert res.mode == "RGB" and res.size == (ow, oh)
            fname = f"{name}_to_{ow}x{oh}.rgb"
            with open(os.path.join(out, fname), "wb") as f:
                f.write(res.tobytes())
            entry["resizes"].append({"width": ow, "height": oh, "file": fname})
        index["images"].append(entry)
    for k, (src, r, c, flip, i, j) in enumerate(CROPS):
        name, img = sources[src]
        res = img.resize((r, r), Image.BILINEAR)
        if flip:
            res = res.transpose(Image.FLIP_LEFT_RIGHT)
        res = res.crop((j, i, j + c, i + c))
        fname = f"crop_{k}.rgb"
        with open(os.path.join(out, fname), "wb") as f:
            f.write(res.tobytes())
        index["crops"].append({"image": name, "resize": r, "crop": c, "flip": flip, "top": i, "left": j, "file": fname})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
