#!/usr/bin/python3
"""prep_captions_check.py - checks a caption set built by dltrain-prep
--format captions independently, with h5py, numpy, PIL and json: the schema
(shapes, types, attributes), every caption's words against the JSON caption
tokenized by the README's rule (written again here), captions grouped to the
right image (pixels compared with PIL's decode of the image file), the
vocabulary's reserved ids. Prints "ok ..." / "not ok ..." lines.

usage: prep_captions_check.py check OUT.h5 CAPTIONS.json IMAGE_DIR
       prep_captions_check.py same A.h5 B.h5     (the same tables and images)
       prep_captions_check.py caption OUT.h5 INDEX   (prints caption INDEX)
"""
import json
import os
import re
import sys

import h5py
import numpy as np


def say(ok, msg):
    print(("ok " if ok else "not ok ") + msg)
    return ok


def tokenize(text):
    """README, "Caption datasets": lower-case ASCII, drop apostrophes, split
    on every byte that is not an ASCII letter or digit; bytes >= 0x80 stay."""
    b = text.encode("utf-8").replace(b"'", b"")
    return [t.decode("utf-8") for t in re.split(rb"[^A-Za-z0-9\x80-\xff]+", b.lower()) if t]


def words(f):
    return [w.decode() if isinstance(w, bytes) else w for w in f["vocab"][:]]


def check(h5, js, imgdir):
    f = h5py.File(h5, "r")
    coco = json.load(open(js))
    n = int(f.attrs["num_samples"])
    caps, lens, img = f["captions"], f["caption_length"][:], f["caption_image"][:]
    vocab = words(f)
    say(caps.dtype == np.int32 and caps.ndim == 2 and lens.dtype == np.int32 and
        img.dtype == np.int32 and caps.shape[0] == len(lens) == len(img) ==
        f.attrs["num_captions"], "%s: int32 /captions %s, /caption_length, /caption_image"
        % (os.path.basename(h5), caps.shape))
    say(caps.shape[1] == f.attrs["caption_max_words"] == lens.max(),
        "T_max = caption_max_words = longest caption (%d)" % caps.shape[1])
    say(vocab[:4] == ["<pad>", "<start>", "<end>", "<unk>"] and
        len(vocab) == f.attrs["vocab_size"] and len(set(vocab)) == len(vocab),
        "/vocab: <pad> <start> <end> <unk>, then %d distinct words" % (len(vocab) - 4))
    caps = caps[:]
    pad_ok = all((caps[i, lens[i]:] == 0).all() and (caps[i, :lens[i]] >= 3).all()
                 for i in range(len(lens)))
    say(pad_ok and (np.diff(img) >= 0).all() and img.min() >= 0 and img.max() < n,
        "words >= 3 then <pad>; captions ordered by image, images in [0, %d)" % n)
    # Which JSON images should be in the file: those with a file that exists
    # and decodes and at least one caption with words, in images[] order.
    from PIL import Image
    by_id = {}
    for a in coco["annotations"]:
        if isinstance(a.get("image_id"), int) and isinstance(a.get("caption"), str) \
                and tokenize(a["caption"]):
            by_id.setdefault(a["image_id"], []).append(tokenize(a["caption"]))
    seen, rows = set(), []
    for e in coco["images"]:
        if not isinstance(e.get("id"), int) or e["id"] in seen or not isinstance(e.get("file_name"), str):
            continue
        seen.add(e["id"])
        p = os.path.join(imgdir, e["file_name"])
        if e["id"] not in by_id or not os.path.isfile(p):
            continue
        try:
            px = np.asarray(Image.open(p).convert("L" if f["data"].shape[1] == 1 else "RGB"))
        except Exception:
            continue
        rows.append((e, px))
    data = f["data"][:]
    unk = lambda t: [w if w in vocab else "<unk>" for w in t]
    got = {}
    for c in range(len(lens)):
        got.setdefault(int(img[c]), []).append([vocab[w] for w in caps[c, :lens[c]]])
    matched, bad = 0, []
    for k, (e, px) in enumerate(rows[:n]):
        d = data[k, 0] if data.shape[1] == 1 else data[k].transpose(1, 2, 0)
        if d.shape != px.shape or np.abs(d.astype(int) - px.astype(int)).mean() > 2.0:
            bad.append("image %d is not %s" % (k, e["file_name"]))
        if int(f["image_id"][k]) != e["id"]:
            bad.append("/image_id[%d] is %d, expected %d" % (k, f["image_id"][k], e["id"]))
        want = sorted(unk(t) for t in by_id[e["id"]])
        if sorted(got.get(k, [])) != want:
            bad.append("image %d (%s): captions %s, expected %s" % (k, e["file_name"],
                                                                   sorted(got.get(k, [])), want))
        matched += 1
    say(not bad and matched == n == len(rows), "all %d images are the JSON's good images in order, each with "
        "exactly its captions (tokenized, unknown words <unk>) and /image_id%s" % (matched, "; " + "; ".join(bad[:3])
                                                                     if bad else ""))


def same(a, b):
    fa, fb = h5py.File(a, "r"), h5py.File(b, "r")
    bad = [k for k in ("data", "label", "mean", "captions", "caption_length", "caption_image")
           if not np.array_equal(fa[k][()], fb[k][()])]
    if words(fa) != words(fb):
        bad.append("vocab")
    say(not bad, "%s = %s%s" % (os.path.basename(b), os.path.basename(a),
                                ": " + ", ".join(bad) + " differ" if bad else
                                " (images, captions, vocabulary)"))


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "caption":
        f = h5py.File(sys.argv[2], "r")
        v, i = words(f), int(sys.argv[3])
        print(" ".join(v[w] for w in f["captions"][i, :f["caption_length"][i]]))
