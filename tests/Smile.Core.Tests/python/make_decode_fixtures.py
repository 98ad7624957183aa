"""Writes image files with Pillow's real encoders, and next to each the pixels Pillow itself decodes from it,
the reference ImageDecoder is compared against.

Usage: /usr/bin/python3 make_decode_fixtures.py OUT_DIR

For every fixture <file>, OUT_DIR/<file>.rgb holds Image.open(<file>).convert("RGB") as raw bytes (rows top to
bottom, R G B interleaved). OUT_DIR/index.json lists them:
  {"pillow": version, "images": [{"file", "kind" ("exact" | "jpeg"), "width", "height", "rgb",
                                   "draft": optional {"min", "width", "height", "rgb"}}]}
"draft" is the JPEG decoded the way a training pipeline reads it: im.draft("RGB", (min, min)) before convert.
"""
import io
import json
import os
import random
import struct
import sys

import PIL
from PIL import Image, ImageChops, ImageDraw

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = random.Random(1234)
index = []


def photo(width, height, seed):
    """Photo-like RGB content: smooth gradients, a sharp-edged disc and noise (flat colour would hide decoder differences)."""
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    down = Image.linear_gradient("L").resize((width, height))
    smooth = Image.merge("RGB", (across, down, Image.blend(across, down, 0.5)))
    disc = Image.new("L", (width, height), 0)
    ImageDraw.Draw(disc).ellipse((width * 0.3, height * 0.1, width * 0.9, height * 0.7), fill=255)
    smooth = Image.composite(ImageChops.invert(smooth), smooth, disc)
    noise = Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))
    return Image.blend(smooth, noise, 0.15)


def gamma_one_icc():
    """A minimal ICC v2 RGB display profile with sRGB primaries but a linear (gamma 1.0) tone curve: a decoder that
    applied embedded profiles would shift mid-tones strongly, Pillow applies none."""
    def xyz(x, y, z):
        return b"XYZ " + b"\0" * 4 + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 0x0100) + b"\0\0"  # one entry: gamma 1.0 (u8Fixed8)
    tags = [(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 28 + b"".join(struct.pack(">i", round(v * 65536)) for v in (0.9642, 1.0, 0.8249)))
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def add(file, image, kind, draft=None, **save):
    path = os.path.join(OUT, file)
    image.save(path, **save)
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    entry = {"file": file, "kind": kind, "width": rgb.width, "height": rgb.height, "rgb": file + ".rgb"}
    with open(os.path.join(OUT, entry["rgb"]), "wb") as f:
        f.write(rgb.tobytes())
    if draft is not None:
        with Image.open(path) as im:
            im.draft("RGB", (draft, draft))
            small = im.convert("RGB")
        entry["draft"] = {"min": draft, "width": small.width, "height": small.height, "rgb": file + f".draft{draft}.rgb"}
        with open(os.path.join(OUT, entry["draft"]["rgb"]), "wb") as f:
            f.write(small.tobytes())
    index.append(entry)


base = photo(321, 243, 1)  # odd sizes: partial MCUs and chroma blocks at the right and bottom edges

# JPEG: colour (4:2:0 by default), grayscale, CMYK (Pillow writes Adobe-inverted CMYK), and 4:4:4.
add("rgb.jpg", base, "jpeg", quality=95)
add("rgb444.jpg", base, "jpeg", quality=95, subsampling=0)
add("gray.jpg", base.convert("L"), "jpeg", quality=95)
add("cmyk.jpg", base.convert("CMYK"), "jpeg", quality=95)
exif = Image.Exif()
exif[0x0112] = 6  # Orientation: rotate 90 CW to display; Pillow's open/convert ignores it, and so must we
add("progressive.jpg", base, "jpeg", quality=90, progressive=True)
add("exif_rotated.jpg", base, "jpeg", quality=95, exif=exif.tobytes())
add("icc_gamma1.jpg", base, "jpeg", quality=95, icc_profile=gamma_one_icc())
# Large enough for reduced-scale (DCT) decoding: 2000x1300 -> 1/4 for a 256 target; 500x375 stays full size.
add("big.jpg", photo(2000, 1300, 2), "jpeg", draft=256, quality=90)
add("mid.jpg", photo(500, 375, 3), "jpeg", draft=256, quality=90)

# Lossless formats: must match Pillow exactly.
add("rgb.png", base, "exact")
add("gray.png", base.convert("L"), "exact")
add("gray_alpha.png", base.convert("LA"), "exact")
add("palette.png", base.quantize(colors=200), "exact")
alpha = Image.frombytes("L", base.size, bytes(rng.randrange(256) if i % 7 else 0 for i in range(base.width * base.height)))
rgba = base.copy()
rgba.putalpha(alpha)  # every 7th pixel fully transparent but with its colour kept
add("rgba.png", rgba, "exact")
add("icc_gamma1.png", base, "exact", icc_profile=gamma_one_icc())
add("rgb.bmp", base, "exact")
add("lossless.webp", base, "exact", lossless=True)
add("lossless_rgba.webp", rgba, "exact", lossless=True)
frames = [base.quantize(colors=64), base.transpose(Image.Transpose.ROTATE_180).quantize(colors=64)]
add("anim.gif", frames[0], "exact", save_all=True, append_images=frames[1:], duration=100, loop=0)
# Pillow gives the transparent index its palette colour; Skia alone would give transparent black.
add("transparent.gif", frames[0], "exact", transparency=5)

with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump({"pillow": PIL.__version__, "images": index}, f, indent=1)
