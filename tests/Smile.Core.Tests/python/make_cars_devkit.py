"""Writes a tiny Stanford Cars devkit with scipy.io.savemat, in the official files' structure, for StanfordCarsTests.

Usage: /usr/bin/python3 make_cars_devkit.py SPEC_JSON OUT_DIR

SPEC_JSON: {"classes": [name ...], "train": [[fname, class] ...], "test": [[fname, class] ...],
            "test_annotations_in": "root" | "devkit"}
Writes OUT_DIR/devkit/cars_meta.mat (class_names: 1xK cell of char), OUT_DIR/devkit/cars_train_annos.mat and
cars_test_annos_withlabels.mat (in OUT_DIR or OUT_DIR/devkit): annotations, a 1xN struct array with fields
bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, fname, as the official files hold them (boxes and class as 1x1
numbers, fname as 1xN char). The train boxes and class are uint8/uint16 (the types scipy.io.loadmat returns
for the official files), the test ones double, so that both kinds of number are read.
"""
import json
import os
import sys

import numpy as np
import scipy.io as sio

spec = json.loads(sys.argv[1])
out = sys.argv[2]
devkit = os.path.join(out, "devkit")
os.makedirs(devkit, exist_ok=True)

names = np.empty((1, len(spec["classes"])), dtype=object)
for i, name in enumerate(spec["classes"]):
    names[0, i] = name
sio.savemat(os.path.join(devkit, "cars_meta.mat"), {"class_names": names}, do_compression=True)

FIELDS = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"]


def annotations(records, small_types):
    a = np.zeros((1, len(records)), dtype=[(f, "O") for f in FIELDS])
    for i, (fname, label) in enumerate(records):
        box = [10 + i, 20 + i, 300 + i, 200 + i]
        for field, value in zip(FIELDS[:4], box):
            a[field][0, i] = np.array([[value]], dtype=(np.uint16 if value > 255 else np.uint8) if small_types else np.float64)
        a["class"][0, i] = np.array([[label]], dtype=np.uint8 if small_types else np.float64)
        a["fname"][0, i] = fname
    return a


sio.savemat(os.path.join(devkit, "cars_train_annos.mat"), {"annotations": annotations(spec["train"], True)}, do_compression=True)
test_folder = devkit if spec["test_annotations_in"] == "devkit" else out
sio.savemat(os.path.join(test_folder, "cars_test_annos_withlabels.mat"), {"annotations": annotations(spec["test"], False)}, do_compression=True)
