#!/usr/bin/env python3
"""h5gen.py FILE.h5 OUT - write FILE.h5 in the fuzz encoding of h5gen.h
(the inverse of h5gen_write): the seed corpora of the dataset and
checkpoint harnesses. Needs h5py and numpy."""
import struct
import sys

import h5py
import numpy as np

FIXED = {np.dtype(np.uint8): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 3,
         np.dtype(np.uint32): 4, np.dtype(np.int64): 5, np.dtype(np.uint64): 6,
         np.dtype(np.float32): 7, np.dtype(np.float64): 8}
VLEN_U8, VLEN_STR, STR16 = 9, 10, 11


def name(s):
    b = s.encode()[:63]
    return bytes([len(b)]) + b


def dim(n):
    return bytes([n]) if n < 255 else b"\xff" + struct.pack("<I", n)


def type_code(dt):
    vl = h5py.check_vlen_dtype(dt)
    if vl is not None:
        return VLEN_STR if vl in (str, bytes) else VLEN_U8
    if dt.kind == "S":
        return STR16
    return FIXED[dt.newbyteorder("=")]


def vlen(b):
    b = b[:65535]
    return (bytes([len(b)]) if len(b) < 255 else b"\xff" + struct.pack("<H", len(b))) + b


def elements(code, values):
    out = b""
    for v in values:
        if code == VLEN_U8:
            out += vlen(np.asarray(v, dtype=np.uint8).tobytes())
        elif code == VLEN_STR:
            out += vlen(v if isinstance(v, bytes) else str(v).encode())
        elif code == STR16:
            out += bytes(v)[:16].ljust(16, b"\0")
    return out


def data(code, arr):
    arr = np.asarray(arr)
    if code >= VLEN_U8:
        return elements(code, arr.reshape(-1))
    return arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def attrs(obj, target):
    out = b""
    for k in obj.attrs:
        dt = obj.attrs.get_id(k).dtype
        v = np.asarray(obj.attrs[k])
        code = type_code(dt)
        if v.ndim == 0:
            out += b"\x01" + bytes([target]) + name(k) + bytes([code, 0]) + data(code, v.reshape(1))
        else:
            out += b"\x01" + bytes([target]) + name(k) + bytes([code, 1]) + dim(v.size) + data(code, v)
    return out


def main():
    out = b""
    with h5py.File(sys.argv[1], "r") as f:
        out += attrs(f, 0)
        items = []
        f.visititems(lambda n, o: items.append((n, o)) if isinstance(o, h5py.Dataset) else None)
        for n, d in items:
            code = type_code(d.dtype)
            chunk = min(255, max(d.chunks)) if d.chunks else 0
            out += b"\x00" + name(n) + bytes([code, len(d.shape) - 1])
            out += b"".join(dim(s) for s in d.shape) + bytes([chunk])
            out += data(code, d[()])
            out += attrs(d, 1)
    open(sys.argv[2], "wb").write(out)


main()
