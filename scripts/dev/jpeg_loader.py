"""The loader side of the end-to-end figure of docs/GPU.md: synthetic CUB-sized JPEGs and PyTorch's DataLoader over them.

usage: jpeg_loader.py make DIR CLASSES PER_CLASS     writes DIR/class_k/img_i.jpg, 500x375 (CUB's typical size), noise over gradients
       jpeg_loader.py load DIR BATCH WORKERS PASSES  prints one JSON line: images/s of torchvision's ImageFolder + DataLoader with the
                                                     reference's train transforms (Pillow: decode, resize to 256x256, flip, random
                                                     crop 224, to tensor, normalise), pinned batches copied to the GPU when there is one
"""
import json
import multiprocessing
import os
import sys
import time


def make_one(args):
    import numpy as np
    from PIL import Image
    path, seed = args
    rng = np.random.default_rng(seed)
    h, w = 375, 500
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * rng.random(3, dtype=np.float32)
    pixels = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make(root, classes, per_class):
    jobs = []
    for c in range(classes):
        os.makedirs(os.path.join(root, f"class_{c:03d}"), exist_ok=True)
        jobs += [(os.path.join(root, f"class_{c:03d}", f"img_{i:04d}.jpg"), c * 100000 + i) for i in range(per_class)]
    with multiprocessing.Pool(os.cpu_count()) as pool:
        pool.map(make_one, jobs, chunksize=16)
    print(json.dumps({"images": len(jobs), "folder": root}))


def load(root, batch, workers, passes):
    import torch
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder
    transform = T.Compose([T.Resize((256, 256)), T.RandomHorizontalFlip(), T.RandomCrop(224), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    data = ImageFolder(root, transform)
    cuda = torch.cuda.is_available()
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=cuda,
                                         drop_last=True, persistent_workers=workers > 0)
    rates = []
    for p in range(passes + 1):  # the first pass starts the workers: not counted
        images, start = 0, time.perf_counter()
        for x, y in loader:
            if cuda:
                x = x.cuda(non_blocking=True)
                y = y.cuda(non_blocking=True)
            images += x.shape[0]
        if cuda:
            torch.cuda.synchronize()
        if p > 0:
            rates.append(images / (time.perf_counter() - start))
    print(json.dumps({"dataloader_images_per_s": rates, "workers": workers, "batch": batch, "images": len(data),
                      "torch": torch.__version__, "cuda": cuda}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        load(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
