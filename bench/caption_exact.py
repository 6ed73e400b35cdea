#!/usr/bin/python3
"""caption_exact.py - the share of images whose caption equals one of its
references word for word: on scene sets built with `caption_scenes.py
--val-captions all` (every caption the grammar has for a scene), the share
of scenes a net described correctly, what and where.

Hypotheses as dltrain-caption --data writes them (IMAGE_INDEX<TAB>caption),
references from the caption set (/captions, /caption_length,
/caption_image, /vocab; README "Caption datasets"), compared as token lists
after the rule dltrain-prep tokenizes with (lower case, words of letters
and digits, apostrophes dropped). Prints "exact: K of N (P%)".

usage: /usr/bin/python3 bench/caption_exact.py HYP.txt SET.h5
"""
import re
import sys

import h5py


def tokens(text):
    """dltrain-prep's rule: ASCII lower case, apostrophes dropped, words of
    ASCII letters, digits and non-ASCII characters."""
    text = "".join(ch.lower() if ch.isascii() else ch for ch in text).replace("'", "")
    return re.findall(r"[a-z0-9\u0080-\U0010ffff]+", text)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    hyp_path, set_path = sys.argv[1:]
    with h5py.File(set_path, "r") as f:
        vocab = [w.decode() for w in f["vocab"][:]]
        caps, lens, img = f["captions"][:], f["caption_length"][:], f["caption_image"][:]
    refs = {}
    for cap, n, i in zip(caps, lens, img):
        refs.setdefault(int(i), set()).add(tuple(vocab[t] for t in cap[:n]))
    hits = total = 0
    with open(hyp_path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            idx, sep, text = line.rstrip("\n").partition("\t")
            if not sep or not idx.isdigit() or int(idx) not in refs:
                sys.exit("caption_exact.py: %s:%d: not IMAGE_INDEX<TAB>caption of an image of %s"
                         % (hyp_path, lineno, set_path))
            total += 1
            hits += tuple(tokens(text)) in refs[int(idx)]
    if total == 0:
        sys.exit("caption_exact.py: %s: no captions" % hyp_path)
    print("exact: %d of %d (%.1f%%)" % (hits, total, 100.0 * hits / total))


if __name__ == "__main__":
    main()
