"""Writes MAT-file level 5 fixtures for MatFileTests, and the values each holds.

Usage: /usr/bin/python3 make_mat_fixtures.py OUT_DIR

OUT_DIR/scipy_plain.mat and OUT_DIR/scipy_compressed.mat: the same variables written by scipy.io.savemat (an
independent writer), with do_compression False and True. OUT_DIR/matlab_style.mat: written here byte by byte
the way MATLAB writes (doubles stored in the smallest integer type that holds them, char as miUINT16,
empty arrays as empty miMATRIX elements, one variable compressed), then read back with scipy.io.loadmat to
prove it is a valid MAT-file. OUT_DIR/sparse.mat and OUT_DIR/complex.mat: arrays the reader must refuse.

OUT_DIR/expected.json: {"scipy": {name: value}, "matlab_style": {name: value}}, a value being
  {"kind": "numeric", "class": "double" | "single" | "int8" ... | "logical", "dims": [...], "values": [...]}
  {"kind": "char", "dims": [...], "rows": [...]}
  {"kind": "cell", "dims": [...], "items": [value ...]}
  {"kind": "struct", "dims": [...], "fields": [...], "elements": [{field: value}]}
with elements in MATLAB's column-major order and numbers as strings ("NaN", "Infinity", repr otherwise).
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import scipy
import scipy.io as sio
import scipy.sparse

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)

CLASS_NAMES = {"float64": "double", "float32": "single", "int8": "int8", "uint8": "uint8", "int16": "int16",
               "uint16": "uint16", "int32": "int32", "uint32": "uint32", "int64": "int64", "uint64": "uint64",
               "bool": "logical"}


def number(x):
    x = float(x)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def matdims(shape):
    """MATLAB's dimensions of a numpy shape as savemat writes it (oned_as='row')."""
    if len(shape) == 0:
        return [1, 1]
    if len(shape) == 1:
        return [1, shape[0]]
    return list(shape)


def describe(v):
    if isinstance(v, str):
        return {"kind": "char", "dims": [1, len(v)] if v else [0, 0], "rows": [v] if v else []}
    assert isinstance(v, np.ndarray), type(v)
    if v.dtype.kind == "U":  # an array of strings: a char matrix, one row per string, padded with spaces
        width = max(len(s) for s in v.flat)
        return {"kind": "char", "dims": [v.size, width], "rows": [s.ljust(width) for s in v.flat]}
    if v.dtype.names:
        return {"kind": "struct", "dims": matdims(v.shape), "fields": list(v.dtype.names),
                "elements": [{f: describe(e[f]) for f in v.dtype.names} for e in v.flatten(order="F")]}
    if v.dtype == object:
        return {"kind": "cell", "dims": matdims(v.shape), "items": [describe(e) for e in v.flatten(order="F")]}
    return {"kind": "numeric", "class": CLASS_NAMES[v.dtype.name], "dims": matdims(v.shape),
            "values": [number(x) for x in v.flatten(order="F")]}


def cell(*items, shape=None):
    c = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        c[i] = item
    return c.reshape(shape or (1, len(items)))


def struct_array(fields, records, shape=None):
    s = np.zeros((1, len(records)), dtype=[(f, "O") for f in fields])
    for i, record in enumerate(records):
        for f, value in zip(fields, record):
            s[f][0, i] = value
    return s.reshape(shape) if shape else s


# ---- scipy.io.savemat ----------------------------------------------------------------------------------------
d = np.array([[1.5, -2.25, 0.1], [np.nan, np.inf, -np.inf]])
scipy_vars = {
    "d": d,
    "cube": (np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 1.25 - 7),
    "scalar": np.array(42.0),
    "s": np.array([0.1, -3.5, 1e30, -0.0], dtype=np.float32),
    "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
    "u8": np.array([[0, 1], [254, 255]], dtype=np.uint8),
    "i16": np.array([-32768, 12345, 32767], dtype=np.int16),
    "u16": np.array([0, 65535], dtype=np.uint16),
    "i32": np.array([-2**31, 7, 2**31 - 1], dtype=np.int32),
    "u32": np.array([0, 2**32 - 1], dtype=np.uint32),
    "i64": np.array([-2**53, 2**53, -7], dtype=np.int64),
    "u64": np.array([0, 2**53, 12345678901234], dtype=np.uint64),
    "flags": np.array([[True, False, True], [False, False, True]]),
    "empty": np.zeros((0, 3)),
    "text": "hello world",
    "unicode": "Grüße ✓ Ram C/V",
    "nothing": "",
    "rows": np.array(["abc", "de"]),
    "c": cell("ab", np.array([[1.0, 2.0]]), cell("x", np.array(3, dtype=np.int16)), np.zeros((0, 0))),
    "c2": cell("a", "b", "c", "d", shape=(2, 2)),
    "annotations": struct_array(
        ["bbox_x1", "bbox_y1", "class", "fname"],
        [(np.array([[39]], np.uint8), np.array([[569]], np.uint16), np.array([[14.0]]), "00001.jpg"),
         (np.array([[36]], np.uint8), np.array([[375]], np.uint16), np.array([[3.0]]), "00002.jpg"),
         (np.array([[85]], np.uint8), np.array([[116]], np.uint16), np.array([[91.0]]), "00003.jpg")]),
    "grid": struct_array(["a", "b"], [(np.array(1.0), "w"), (np.array(2.0), "x"), (np.array(3.0), "y"),
                                     (np.array(4.0), "z")], shape=(2, 2)),
    "nested": struct_array(["inner", "list"], [(struct_array(["v"], [(np.array([5.0, 6.0]),)]), cell("p", "q"))]),
}
sio.savemat(os.path.join(OUT, "scipy_plain.mat"), scipy_vars, do_compression=False)
sio.savemat(os.path.join(OUT, "scipy_compressed.mat"), scipy_vars, do_compression=True)
sio.savemat(os.path.join(OUT, "sparse.mat"), {"m": scipy.sparse.csc_matrix(np.eye(3))})
sio.savemat(os.path.join(OUT, "complex.mat"), {"z": np.array([1 + 2j, 3 - 1j])})

# ---- MATLAB's way, byte by byte (MathWorks, "MAT-File Format") -------------------------------------------------
miINT8, miUINT8, miINT16, miUINT16, miINT32, miUINT32, miDOUBLE, miMATRIX, miCOMPRESSED, miUTF8 = 1, 2, 3, 4, 5, 6, 9, 14, 15, 16
mxCELL, mxSTRUCT, mxCHAR, mxDOUBLE, mxUINT8 = 1, 2, 4, 6, 9


def element(mdtype, data, small=True):
    """A data element: the small format (size and type in 4 bytes, then 4 data bytes) when it fits, else a
    full tag, then the data padded to 8 bytes."""
    if small and len(data) <= 4:
        return struct.pack("<HH", mdtype, len(data)) + data + b"\0" * (4 - len(data))
    return struct.pack("<II", mdtype, len(data)) + data + b"\0" * (-len(data) % 8)


def matrix(mx, dims, name, body, logical=False):
    flags = struct.pack("<II", mx | (0x0200 if logical else 0), 0)
    content = (element(miUINT32, flags, small=False) + element(miINT32, struct.pack(f"<{len(dims)}i", *dims))
               + element(miINT8, name.encode("ascii")) + body)
    return element(miMATRIX, content, small=False)


def double_as(name, dims, values, mdtype, fmt):
    """A double array stored in a smaller type, as MATLAB stores doubles that are integers in range."""
    return matrix(mxDOUBLE, dims, name, element(mdtype, struct.pack(f"<{len(values)}{fmt}", *values)))


def char(name, text, mdtype=miUINT16):
    data = text.encode("utf-16-le") if mdtype == miUINT16 else text.encode("utf-8")
    return matrix(mxCHAR, [1, len(text)], name, element(mdtype, data))


def struct_body(fields, elements):
    length = 32
    names = b"".join(f.encode("ascii").ljust(length, b"\0") for f in fields)
    return element(miINT32, struct.pack("<i", length)) + element(miINT8, names) + b"".join(elements)


def compressed(data):
    z = zlib.compress(data)
    return struct.pack("<II", miCOMPRESSED, len(z)) + z  # MATLAB does not pad a compressed element


annotations = [(39, 569, 14, "00001.jpg"), (36, 375, 3, "00002.jpg")]
fields = ["bbox_x1", "bbox_x2", "class", "fname"]
body = b""
for i, (x1, x2, label, fname) in enumerate(annotations):
    body += (double_as("", [1, 1], [x1], miUINT8, "B") + double_as("", [1, 1], [x2], miUINT16, "H")
             + double_as("", [1, 1], [label], miUINT8, "B") + char("", fname, miUINT16 if i == 0 else miUTF8))
empty_field = element(miMATRIX, b"", small=False)  # an unset field or cell: an empty miMATRIX
variables = (
    compressed(matrix(mxSTRUCT, [1, 2], "annotations", struct_body(fields, [body])))
    + double_as("neg", [1, 3], [-1, 300, -2], miINT16, "h")
    + matrix(mxCELL, [1, 3], "names", char("", "AM General Hummer SUV 2000") + char("", "Ram C/V Cargo Van Minivan 2012") + empty_field)
    + matrix(mxUINT8, [1, 3], "mask", element(miUINT8, bytes([1, 0, 1])), logical=True)
    + compressed(double_as("wide", [2, 2], [1, 2, 3, 70000], miINT32, "i"))
)
text = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Sat Dec 14 14:13:07 2013 (written by make_mat_fixtures.py)"
header = text.ljust(116, b" ") + b" " * 8 + struct.pack("<H", 0x0100) + b"IM"
with open(os.path.join(OUT, "matlab_style.mat"), "wb") as f:
    f.write(header + variables)

# scipy must read the hand-written file as intended, or the fixture itself is wrong.
m = sio.loadmat(os.path.join(OUT, "matlab_style.mat"), mat_dtype=True)
assert [float(m["annotations"][0, i]["class"][0, 0]) for i in range(2)] == [14.0, 3.0]
assert [str(m["annotations"][0, i]["fname"][0]) for i in range(2)] == ["00001.jpg", "00002.jpg"]
assert m["annotations"][0, 1]["bbox_x2"].dtype == np.float64 and m["annotations"][0, 1]["bbox_x2"][0, 0] == 375
assert m["neg"].tolist() == [[-1.0, 300.0, -2.0]], m["neg"]
assert str(m["names"][0, 1][0]) == "Ram C/V Cargo Van Minivan 2012" and m["names"][0, 2].size == 0
assert m["mask"].dtype == bool and m["mask"].tolist() == [[True, False, True]]
assert m["wide"].tolist() == [[1.0, 3.0], [2.0, 70000.0]]

ann = np.zeros((1, 2), dtype=[(f, "O") for f in fields])
for i, (x1, x2, label, fname) in enumerate(annotations):
    ann["bbox_x1"][0, i], ann["bbox_x2"][0, i], ann["class"][0, i] = np.array([[float(x1)]]), np.array([[float(x2)]]), np.array([[float(label)]])
    ann["fname"][0, i] = fname
matlab_expected = {
    "annotations": describe(ann),
    "neg": describe(np.array([[-1.0, 300.0, -2.0]])),
    "names": describe(cell("AM General Hummer SUV 2000", "Ram C/V Cargo Van Minivan 2012", np.zeros((0, 0)))),
    "mask": describe(np.array([[True, False, True]])),
    "wide": describe(np.array([[1.0, 3.0], [2.0, 70000.0]])),
}

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"scipy": {k: describe(v) for k, v in scipy_vars.items()}, "matlab_style": matlab_expected}, f, indent=1)
print(f"scipy {scipy.__version__}, numpy {np.__version__}")
