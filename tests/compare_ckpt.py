"""compare_ckpt.py A.h5 B.h5 MODE - compare two dltrain checkpoints with h5py.

MODE "exact": every dataset under /data, /history (and /history2, Adam) is bit-for-bit equal.
MODE "rel=T": for every /data blob, max|a-b| / max|b| <= T.
Prints one line per blob and exits non-zero on any mismatch."""
import sys

import h5py
import numpy as np


def blobs(f, root):
    out = {}
    f[root].visititems(lambda name, obj: out.__setitem__(name, obj[...])
                       if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    a_path, b_path, mode = sys.argv[1:4]
    ok = True
    with h5py.File(a_path, "r") as fa, h5py.File(b_path, "r") as fb:
        roots = ["data", "history"] if mode == "exact" else ["data"]
        if mode == "exact" and ("history2" in fa or "history2" in fb):
            roots.append("history2")
        for root in roots:
            a, b = blobs(fa, root), blobs(fb, root)
            if sorted(a) != sorted(b) or not a:
                print("blob names differ under /%s: %s vs %s" % (root, sorted(a), sorted(b)))
                ok = False
                continue
            for name in sorted(a):
                x, y = a[name], b[name]
                if x.shape != y.shape:
                    print("/%s/%s shape %s vs %s" % (root, name, x.shape, y.shape))
                    ok = False
                elif mode == "exact":
                    same = np.array_equal(x, y)
                    print("/%s/%s %s" % (root, name, "identical" if same else
                                         "DIFFERS (max %g)" % np.abs(x - y).max()))
                    ok &= same
                else:
                    tol = float(mode.split("=")[1])
                    rel = np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)
                    print("/%s/%s max relative difference %.3g (limit %g)" % (root, name, rel, tol))
                    ok &= rel <= tol
    sys.exit(0 if ok else 1)


main()
