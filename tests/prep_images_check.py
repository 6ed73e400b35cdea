#!/usr/bin/python3
"""prep_images_check.py - makes the inputs for tests/test_prep_images.sh and
checks what dltrain-prep wrote, with h5py + PIL as independent readers.
  gen DIR            write folder/list/CIFAR/bad inputs under DIR
  check NAME ARGS..  print 'ok ...' / 'not ok ...' lines (TAP done by the caller)"""
import io, os, sys
import numpy as np

COLORS = {"cat": [(200, 30, 30), (30, 200, 30), (30, 30, 200)],
          "dog": [(250, 250, 250), (10, 10, 10), (128, 64, 32)],
          "zebra": [(90, 180, 20), (20, 90, 180), (180, 20, 90)]}
A, B, C = (230, 40, 40), (40, 230, 40), (40, 40, 230)


def band_image(w, h, colors):
    """Left quarter A, middle half B, right quarter C (tests crop geometry)."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, :w // 4] = colors[0]
    a[:, w // 4:3 * w // 4] = colors[1]
    a[:, 3 * w // 4:] = colors[2]
    return a


def save_jpeg(path, arr, q=95):
    from PIL import Image
    Image.fromarray(arr).save(path, "JPEG", quality=q, subsampling=0)


def gen(d):
    from PIL import Image
    os.makedirs(d, exist_ok=True)
    # Class folders: each image 64x32 in three vertical bands; one 32x32.
    for cls, cols in COLORS.items():
        os.makedirs("%s/folder/%s" % (d, cls), exist_ok=True)
        for i, col in enumerate(cols):
            c2 = tuple(255 - v for v in col)
            save_jpeg("%s/folder/%s/img%d.jpg" % (d, cls, i), band_image(64, 32, [col, c2, col]))
        save_jpeg("%s/folder/%s/small.jpg" % (d, cls), np.full((32, 32, 3), cols[0], np.uint8))
    open("%s/folder/cat/README.txt" % d, "w").write("not an image, no image extension\n")
    # A big image: the decoder scales it in the DCT domain.
    yy, xx = np.mgrid[0:512, 0:384]
    big = np.stack([xx * 255 // 383, yy * 255 // 511, (xx + yy) * 255 // 894], -1).astype(np.uint8)
    os.makedirs("%s/big/grad" % d, exist_ok=True)
    save_jpeg("%s/big/grad/big.jpg" % d, big)
    # List file with a root, paths with a space, one label out of range.
    os.makedirs("%s/root/sub dir" % d, exist_ok=True)
    lines = []
    for i in range(6):
        col = ((40 * i) % 256, 100, 255 - 40 * i)
        p = "sub dir/im %d.jpg" % i
        save_jpeg("%s/root/%s" % (d, p), np.full((40, 40, 3), col, np.uint8))
        lines.append("%s %d" % (p, i % 3))
    lines.append("sub dir/im 0.jpg 7")
    open("%s/list.txt" % d, "w").write("\n".join(lines) + "\n")
    open("%s/classes3.txt" % d, "w").write("red\ngreen\nblue\n")
    # CIFAR-10 and CIFAR-100 binaries in the real record layout.
    rng = np.random.RandomState(5)
    for name, head, n in (("data_batch_1.bin", 1, 30), ("data_batch_2.bin", 1, 20),
                          ("train.bin", 2, 25)):
        labels = rng.randint(0, 10 if head == 1 else 100, size=(n, head)).astype(np.uint8)
        px = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
        np.concatenate([labels, px], 1).tofile("%s/%s" % (d, name))
    # Bad inputs among good ones.
    bad = "%s/bad/k" % d
    os.makedirs(bad, exist_ok=True)
    for i in range(3):
        save_jpeg("%s/good%d.jpg" % (bad, i), np.full((48, 48, 3), (60 * i, 90, 30), np.uint8))
    good = open("%s/good0.jpg" % bad, "rb").read()
    open("%s/truncated.jpg" % bad, "wb").write(good[:len(good) // 2])
    big = open("%s/big/grad/big.jpg" % d, "rb").read()  # cut inside the scan data
    open("%s/truncated_late.jpg" % bad, "wb").write(big[:len(big) * 3 // 4])
    open("%s/corrupt.jpg" % bad, "wb").write(good[:200] + bytes(rng.randint(0, 256, 3000).astype(np.uint8)))
    open("%s/empty.jpg" % bad, "wb").close()
    open("%s/text.jpg" % bad, "w").write("this is text, not a JPEG\n" * 10)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save("%s/picture.png" % bad)
    os.symlink("/nonexistent/file.jpg", "%s/dangling.jpg" % bad)


def out(name, cond, detail=""):
    print(("ok %s" % name) if cond else ("not ok %s: %s" % (name, detail)))


def axis_weights(sn, dn):
    """(dn, sn) matrix: exact area coverage when shrinking, bilinear between
    pixel centres when enlarging (what dltrain-prep documents)."""
    m = np.zeros((dn, sn))
    s = sn / dn
    for o in range(dn):
        if s > 1:
            x0, x1 = o * s, (o + 1) * s
            for i in range(int(np.floor(x0)), min(sn, int(np.ceil(x1)))):
                m[o, i] = (min(x1, i + 1) - max(x0, i)) / s
        else:
            x = max(0.0, (o + 0.5) * s - 0.5)
            i = int(np.floor(x))
            if i >= sn - 1:
                m[o, sn - 1] = 1
            else:
                m[o, i], m[o, i + 1] = 1 - (x - i), x - i
    return m


def area_resize(img, w, h):
    if img.shape[1] == w and img.shape[0] == h:
        return img
    wy, wx = axis_weights(img.shape[0], h), axis_weights(img.shape[1], w)
    out = np.einsum("yi,ijc,xj->yxc", wy, img.astype(np.float64), wx)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def expected_resize(img, w, h, mode):
    """DIGITS' resize_image geometry with a box filter; returns the image and
    the mask of pixels that are not noise."""
    from PIL import Image
    sh, sw = img.shape[:2]
    wr, hr = sw / w, sh / h
    rnd = lambda x: int(np.floor(x + 0.5))
    if mode == "squash" or (sw == w and sh == h):
        iw, ih = w, h
    elif mode == "crop":
        iw, ih = (rnd(sw / hr), h) if wr > hr else (w, rnd(sh / wr))
    elif mode == "fill":
        if wr > hr:
            iw, ih = w, rnd(sh / wr)
            ih += (h - ih) % 2
        else:
            iw, ih = rnd(sw / hr), h
            iw += (w - iw) % 2
    else:
        r = (wr + hr) / 2
        iw, ih = rnd(sw / r), rnd(sh / r)
        if wr > hr and (h - ih) % 2: ih += 1
        elif wr < hr and (w - iw) % 2: iw += 1
    mid = area_resize(img, iw, ih)
    res = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), bool)
    sx = rnd((iw - w) / 2) if iw > w else 0
    sy = rnd((ih - h) / 2) if ih > h else 0
    dx = (w - iw) // 2 if iw < w else 0
    dy = (h - ih) // 2 if ih < h else 0
    cw, ch = min(iw, w), min(ih, h)
    res[dy:dy + ch, dx:dx + cw] = mid[sy:sy + ch, sx:sx + cw]
    mask[dy:dy + ch, dx:dx + cw] = True
    return res, mask


def decode(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def check_folder(h5, root, mode, w, h):
    import h5py
    classes = sorted(c for c in os.listdir(root) if os.path.isdir(os.path.join(root, c)))
    files = []
    for li, c in enumerate(classes):
        for dp, dn, fn in sorted(os.walk(os.path.join(root, c))):
            files += [(os.path.join(dp, f), li) for f in sorted(fn) if f.endswith(".jpg")]
    with h5py.File(h5, "r") as f:
        got_cls = [x.decode() if isinstance(x, bytes) else x for x in f.attrs["classes"]]
        out("%s: classes are the sorted subfolders" % mode, got_cls == classes, got_cls)
        d, l = f["data"][...], f["label"][...]
        out("%s: %d samples of 3x%dx%d" % (mode, len(files), h, w),
            d.shape == (len(files), 3, h, w), d.shape)
        out("%s: labels in folder order" % mode, list(l) == [li for _, li in files], list(l))
        worst = 0.0
        for i, (p, _) in enumerate(files):
            want, mask = expected_resize(decode(p), w, h, mode)
            got = d[i].transpose(1, 2, 0).astype(int)
            diff = np.abs(got - want.astype(int))[mask]
            worst = max(worst, diff.mean())
            if diff.mean() > 2.5 or np.percentile(diff, 99) > 12:
                out("%s: pixels of %s" % (mode, p), False, "mean diff %.2f, p99 %.1f" %
                    (diff.mean(), np.percentile(diff, 99)))
                return
        out("%s: pixels match DIGITS geometry + area filter (worst mean |diff| %.2f)" % (mode, worst), True)
        m = f["mean"][...]
        out("%s: /mean is the mean image" % mode,
            np.abs(m - d.astype(np.float64).mean(0)).max() < 1e-3, np.abs(m - d.mean(0)).max())


def check_cifar(h5, files, head, gray):
    import h5py
    recs = [np.fromfile(p, np.uint8).reshape(-1, head + 3072) for p in files]
    recs = np.concatenate(recs)
    labels = recs[:, head - 1].astype(np.int32)
    px = recs[:, head:].reshape(-1, 3, 32, 32)
    with h5py.File(h5, "r") as f:
        d, l = f["data"][...], f["label"][...]
        tag = "cifar%s%s" % ("10" if head == 1 else "100", " gray" if gray else "")
        out("%s: labels equal the record label bytes" % tag, np.array_equal(l, labels))
        if gray:
            y = (0.299 * px[:, 0] + 0.587 * px[:, 1] + 0.114 * px[:, 2] + 0.5).astype(np.uint8)
            diff = np.abs(d[:, 0].astype(int) - y.astype(int)).max()
            out("%s: /data is the BT.601 luma (max diff %d)" % (tag, diff),
                d.shape == (len(px), 1, 32, 32) and diff <= 1, d.shape)
        else:
            out("%s: /data equals the record pixels" % tag, np.array_equal(d, px), d.shape)
        cls = [x.decode() if isinstance(x, bytes) else x for x in f.attrs["classes"]]
        out("%s: %d class names" % (tag, 10 if head == 1 else 100),
            len(cls) == (10 if head == 1 else 100) and (head == 2 or cls[0] == "airplane"), cls[:3])


def check_list(h5, root):
    import h5py
    with h5py.File(h5, "r") as f:
        d, l = f["data"][...], f["label"][...]
        out("list: 6 good lines in, in order", list(l) == [i % 3 for i in range(6)], list(l))
        ok = all(np.abs(d[i, :, 4:-4, 4:-4].astype(int) -
                        np.array(((40 * i) % 256, 100, 255 - 40 * i))[:, None, None]).max() <= 4
                 for i in range(6))
        out("list: pixels are the files' colours", ok)
        cls = [x.decode() if isinstance(x, bytes) else x for x in f.attrs["classes"]]
        out("list: --classes names", cls == ["red", "green", "blue"], cls)


def check_jpeg(h5j, h5raw, keep_src):
    import h5py
    from PIL import Image
    with h5py.File(h5j, "r") as fj, h5py.File(h5raw, "r") as fr:
        out("jpeg: no /data, a /jpeg dataset", "data" not in fj and "jpeg" in fj, list(fj))
        j, raw = fj["jpeg"], fr["data"][...]
        out("jpeg: vlen uint8 [N]", j.shape == (raw.shape[0],) and j.dtype.metadata is not None
            and h5py.check_vlen_dtype(j.dtype) == np.uint8, (j.shape, j.dtype))
        worst = 0
        for i in range(j.shape[0]):
            img = np.asarray(Image.open(io.BytesIO(j[i].tobytes())).convert("RGB"))
            worst = max(worst, np.abs(img.transpose(2, 0, 1).astype(int) - raw[i].astype(int)).mean())
        # Re-encoded at quality 90 with 4:2:0 chroma: sharp colour edges cost a few levels.
        out("jpeg: decodes close to the raw build (worst mean |diff| %.2f)" % worst, worst < 8, worst)
        ja, ra = fj.attrs.get("encoding"), fj["label"][...]
        out("jpeg: labels equal the raw build", np.array_equal(ra, fr["label"][...]))
        kept = [p for p in keep_src]
        same = any(j[i].tobytes() == open(p, "rb").read() for p in kept for i in range(j.shape[0]))
        out("jpeg: a source JPEG already 32x32 is stored byte for byte", same)


def check_bad(h5, report, bad_dir):
    import h5py
    with h5py.File(h5, "r") as f:
        n = f["label"].shape[0]
    out("bad: the 3 good images are in", n == 3, n)
    lines = [x.rstrip("\n").split("\t") for x in open(report)]
    names = sorted(os.path.basename(x[0]) for x in lines)
    want = sorted(["truncated.jpg", "truncated_late.jpg", "corrupt.jpg", "empty.jpg", "text.jpg", "picture.png",
                   "dangling.jpg"])
    out("bad: report lists each bad file once", names == want, names)
    why = {os.path.basename(x[0]): x[-1] for x in lines}
    out("bad: reasons name the problem", "empty" in why.get("empty.jpg", "")
        and "png" in why.get("picture.png", "") and "not an image" in why.get("text.jpg", "")
        and "cannot read" in why.get("dangling.jpg", "")
        and "JPEG" in why.get("truncated.jpg", "")
        and "truncated" in why.get("truncated_late.jpg", ""), why)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2])
    elif cmd == "folder":
        check_folder(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "cifar":
        check_cifar(sys.argv[2], sys.argv[5:], int(sys.argv[3]), sys.argv[4] == "gray")
    elif cmd == "list":
        check_list(sys.argv[2], sys.argv[3])
    elif cmd == "jpeg":
        check_jpeg(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "bad":
        check_bad(sys.argv[2], sys.argv[3], sys.argv[4])
