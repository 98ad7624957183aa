"""Reference perceptual hashes for Smile's PerceptualHash tests: imagehash.phash's algorithm (Zauner's DCT
hash) with Pillow's BILINEAR resize in place of its LANCZOS, since Smile resizes with its port of Pillow's
bilinear filter. imagehash itself is not a Debian package; its phash is these five lines.

usage: phash_reference.py W H FILE.rgb [W H FILE.rgb ...]   (raw RGB bytes, rows top to bottom)

Prints one 16-digit hex hash per image, bit 63 the DCT coefficient (0, 0), then row by row (imagehash's
hex form).
"""
import sys

import numpy as np
import scipy.fftpack
from PIL import Image


def phash(image):
    pixels = np.asarray(image.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]
    bits = (low > np.median(low)).flatten()
    return "".join("%x" % int("".join("1" if b else "0" for b in bits[i:i + 4]), 2) for i in range(0, 64, 4))


args = sys.argv[1:]
for i in range(0, len(args), 3):
    width, height, path = int(args[i]), int(args[i + 1]), args[i + 2]
    with open(path, "rb") as f:
        print(phash(Image.frombytes("RGB", (width, height), f.read())))
