#!/usr/bin/python3
"""caption_scenes.py - a captioning task without COCO: Fashion-MNIST items
composed into 84x84 scenes (2 or 3 items on a 3x3 grid of 28x28 cells) with
several reference captions per scene from a small grammar, so that a caption
has to say what is where ("a sneaker above a bag", "two shirts and a boot",
"a bag in the top left corner"). Writes COCO-style captions JSON and JPEG
images for dltrain-prep --format captions:

    OUT/train/captions.json  OUT/train/images/000000.jpg ...
    OUT/val/captions.json    OUT/val/images/...

The split is by scene, and the val scenes use only items of Fashion-MNIST's
test set (t10k), so no item image is in both. Deterministic for a --seed.
Runs with Debian's python3 (numpy, PIL) and dataset-fashion-mnist.

usage: scripts/caption_scenes.py [--train N] [--val N] [--captions K]
                                 [--val-captions K|all] [--seed S] [--fmnist DIR] OUT

--val-captions all gives each val scene every caption the grammar has for
it (5 for two items, 10 for three), so that BLEU scores any correct caption
fully and an exact match with a reference means "said what is where": with
5 of a 3-item scene's 10 forms as references, BLEU-4 also measured which
form a net happened to prefer (bench/README "Captioning"). The scenes and
the train split do not depend on it.
"""
import argparse
import gzip
import io
import json
import os
import sys

import numpy as np
from PIL import Image

# One word per class, so that a tokenized caption has one token per noun.
NOUNS = ["tshirt", "trouser", "pullover", "dress", "coat",
         "sandal", "shirt", "sneaker", "bag", "boot"]
PLURALS = ["tshirts", "trousers", "pullovers", "dresses", "coats",
           "sandals", "shirts", "sneakers", "bags", "boots"]
NUMBERS = {2: "two", 3: "three"}
# Cell (row, col) of the 3x3 grid -> where a single item is.
PLACES = {(0, 0): "in the top left corner", (0, 1): "at the top",
          (0, 2): "in the top right corner", (1, 0): "on the left",
          (1, 1): "in the middle", (1, 2): "on the right",
          (2, 0): "in the bottom left corner", (2, 1): "at the bottom",
          (2, 2): "in the bottom right corner"}
CELL = 28
SIDE = 3 * CELL


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 8:
        sys.exit("caption_scenes.py: %s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def relation(a, b):
    """How cell A lies to cell B, in words: rows first, then columns."""
    (ra, ca), (rb, cb) = a, b
    if ra < rb:
        return "above"
    if ra > rb:
        return "below"
    return "left of" if ca < cb else "right of"


def a(noun):
    return "an " + noun if noun[0] in "aeiou" else "a " + noun


def count_phrase(classes):
    """ "two shirts and a bag": the items by class, most numerous first."""
    counts = {}
    for c in classes:
        counts[c] = counts.get(c, 0) + 1
    parts = [NUMBERS[n] + " " + PLURALS[c] if n > 1 else a(NOUNS[c])
             for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def captions_for(items, k, rng):
    """K distinct captions of a scene ITEMS [(class, (row, col))], each
    naming what is where (or, for the count form, what and how many)."""
    forms = []
    n = len(items)
    for i in range(n):
        for j in range(n):
            if i != j:
                ci, pi = items[i]
                cj, pj = items[j]
                s = "%s %s %s" % (a(NOUNS[ci]), relation(pi, pj), a(NOUNS[cj]))
                if n == 3:
                    (cr, pr), = [items[m] for m in range(n) if m not in (i, j)]
                    forms.append(s + " and %s %s" % (a(NOUNS[cr]), PLACES[pr]))
                else:
                    forms.append(s)
    for i in range(n):
        c, p = items[i]
        others = [items[m][0] for m in range(n) if m != i]
        forms.append("%s %s next to %s" % (a(NOUNS[c]), PLACES[p], count_phrase(others)))
    forms.append(count_phrase([c for c, _ in items]))
    forms = sorted(set(forms))
    rng.shuffle(forms)
    # The count form alone says nothing of places: keep it, but not first.
    return forms if k is None else forms[:k]


def make_split(out, name, n, images, labels, k, rng, first_id):
    os.makedirs(os.path.join(out, name, "images"), exist_ok=True)
    coco = {"info": {"description": "Fashion-MNIST scenes (dltrain "
                                    "scripts/caption_scenes.py)"},
            "images": [], "annotations": []}
    ann_id = first_id * 10
    for s in range(n):
        nitems = int(rng.integers(2, 4))
        cells = rng.choice(9, size=nitems, replace=False)
        canvas = np.zeros((SIDE, SIDE), np.uint8)
        items = []
        for cell in cells:
            idx = int(rng.integers(0, len(images)))
            r, c = divmod(int(cell), 3)
            canvas[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = images[idx]
            items.append((int(labels[idx]), (r, c)))
        image_id = first_id + s
        file_name = "%06d.jpg" % image_id
        buf = io.BytesIO()
        Image.fromarray(canvas, "L").save(buf, "JPEG", quality=95)
        with open(os.path.join(out, name, "images", file_name), "wb") as f:
            f.write(buf.getvalue())
        coco["images"].append({"id": image_id, "file_name": file_name,
                               "width": SIDE, "height": SIDE})
        for cap in captions_for(items, k, rng):
            coco["annotations"].append({"id": ann_id, "image_id": image_id,
                                        "caption": cap[0].upper() + cap[1:] + "."})
            ann_id += 1
    with open(os.path.join(out, name, "captions.json"), "w") as f:
        json.dump(coco, f, indent=1)
    return len(coco["annotations"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=8000, help="training scenes (8000)")
    ap.add_argument("--val", type=int, default=1000, help="validation scenes (1000)")
    ap.add_argument("--captions", type=int, default=5, help="captions per scene (5)")
    ap.add_argument("--val-captions", default=None, metavar="K|all",
                    help="captions per val scene: a number, or all the grammar's "
                         "(default: --captions)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fmnist", default="/usr/share/datasets/fashion-mnist",
                    help="folder of Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist)")
    o = ap.parse_args()
    if o.val_captions is None:
        val_k = o.captions
    elif o.val_captions == "all":
        val_k = None
    elif o.val_captions.isdigit() and int(o.val_captions) > 0:
        val_k = int(o.val_captions)
    else:
        ap.error("--val-captions: a positive number or 'all', not '%s'" % o.val_captions)
    rng = np.random.default_rng(o.seed)
    f = lambda n: os.path.join(o.fmnist, n)
    tr = read_idx(f("train-images-idx3-ubyte.gz")), read_idx(f("train-labels-idx1-ubyte.gz"))
    te = read_idx(f("t10k-images-idx3-ubyte.gz")), read_idx(f("t10k-labels-idx1-ubyte.gz"))
    ntr = make_split(o.out, "train", o.train, tr[0], tr[1], o.captions, rng, 0)
    nva = make_split(o.out, "val", o.val, te[0], te[1], val_k, rng, 1000000)
    print("caption_scenes.py: %s/train: %d scenes, %d captions; %s/val: %d scenes, %d captions"
          % (o.out, o.train, ntr, o.out, o.val, nva))


if __name__ == "__main__":
    main()
