"""The reference's per-image data pipeline in Pillow, timed on one core (used by `smile bench data`).

usage: pillow_pipeline.py IMAGE_SIZE REPEATS FILE...
Prints one JSON line: {"images": N, "seconds": S, "images_per_s": R, "pillow": VERSION}.

Per image, as the reference does with paddle.vision.transforms on the PIL backend: open, convert
to RGB, resize to (256, 256) bilinear (ignoring aspect; 256/224 of IMAGE_SIZE in general), random
horizontal flip, random crop IMAGE_SIZE, to float32 CHW scaled to [0, 1], normalise.
"""
import json
import random
import sys
import time

import numpy as np
import PIL
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def pipeline(path, crop, resize, rng):
    img = Image.open(path).convert("RGB")
    img = img.resize((resize, resize), Image.BILINEAR)
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    i, j = rng.randint(0, resize - crop), rng.randint(0, resize - crop)
    img = img.crop((j, i, j + crop, i + crop))
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (x - MEAN) / STD


def main():
    crop, repeats, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    resize = int(round(crop * 256 / 224))
    rng = random.Random(0)
    pipeline(files[0], crop, resize, rng)  # warm-up
    start = time.perf_counter()
    n = 0
    for _ in range(repeats):
        for f in files:
            pipeline(f, crop, resize, rng)
            n += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"images": n, "seconds": seconds, "images_per_s": n / seconds, "pillow": PIL.__version__}))


if __name__ == "__main__":
    main()
