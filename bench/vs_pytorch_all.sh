#!/bin/sh
# vs_pytorch_all.sh - the README's figures table in one run: each net of the
# table side by side with PyTorch (bench/net_vs_pytorch.py, 2 threads each,
# median of 3 alternating runs), then fma_peak. Run from the build
# directory after `make bench`; PYTHON: the interpreter with torch
# (default /opt/torchvenv/bin/python, PyTorch 2.15 from PyPI). Extra
# arguments go to every net_vs_pytorch.py call (e.g. --json runs.json is
# overwritten per net, so prefer --repeats 5). Exit status: 1 if any net FAILED.
PY=${PYTHON:-/opt/torchvenv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
dir=$(dirname "$0")
st=0
uptime
for case in "lenet_fashion --batch 64 --min-ratio 2.0" "lenet --batch 64 --min-ratio 2.0" \
            "cifar10_quick --batch 100 --min-ratio 1.3" \
            "googlenet --batch 16 --warmup 2 --min-ratio 1.3" \
            "resnet50 --batch 8 --warmup 3 --min-time 8 --min-ratio 1.2"; do
    echo "== $case"
    # shellcheck disable=SC2086 # the case is a word list
    "$PY" "$dir/net_vs_pytorch.py" $case --min-infer-ratio 1.0 "$@" || st=1
done
uptime
exit $st
