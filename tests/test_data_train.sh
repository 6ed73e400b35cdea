#!/bin/bash
# test_data_train.sh - the trainer on the new dataset kinds: an h5py-written
# Caffe-style float dataset; a JPEG dataset with crop/mirror/mean_file under
# mpirun -np 2; node-local staging (copy, reuse, corrupted copy replaced).
. "$(dirname "$0")/lib.sh"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
[ -x "$TRAIN" ] && [ -x "$PREP" ] || skip_all "programs not built"

cat >"$WORK/solver.prototxt" <<'P'
net: "net.prototxt"
base_lr: 0.01
momentum: 0.9
lr_policy: "fixed"
display: 2
max_iter: 6
random_seed: 5
P
# Caffe's HDF5Data layout written by h5py: float32 /data [N,3,8,8], float /label [N,1].
"$PYTHON_H5PY" - "$WORK/caffe.h5" <<'PY'
import sys, h5py, numpy as np
r = np.random.RandomState(0)
with h5py.File(sys.argv[1], "w") as f:
    f["data"] = r.rand(40, 3, 8, 8).astype(np.float32)
    f["label"] = r.randint(0, 4, (40, 1)).astype(np.float32)
PY
cat >"$WORK/net.prototxt" <<'P'
layer { name: "d" type: "HDF5Data" top: "data" top: "label" hdf5_data_param { batch_size: 8 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
P
(cd "$WORK" && "$TRAIN" --solver solver.prototxt --train caffe.h5 --run-dir run_caffe >out_caffe.txt 2>&1)
rc=$?
check "h5py-written Caffe float dataset trains (exit $rc)" test $rc -eq 0
check "its metrics log t_data (time waiting for data)" grep -q '"t_data"' "$WORK/run_caffe/metrics.jsonl"

# A JPEG dataset from CIFAR-10-layout binaries; crop 28, mirror, its own /mean.
"$PYTHON_H5PY" -c "
import numpy as np
r = np.random.RandomState(1)
np.concatenate([r.randint(0, 10, (64, 1)), r.randint(0, 256, (64, 3072))], 1).astype(np.uint8).tofile('$WORK/b.bin')"
"$PREP" -q --format cifar10 --encoding jpeg "$WORK/b.bin" "$WORK/cj.h5" 2>"$WORK/prep.err"
check "prep: CIFAR binaries to a /jpeg dataset" test -s "$WORK/cj.h5"
cat >"$WORK/net.prototxt" <<P
layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 4 }
        transform_param { crop_size: 28 mirror: true scale: 0.00390625 mean_file: "$WORK/cj.h5" } }
layer { name: "c" type: "Convolution" bottom: "data" top: "c"
        convolution_param { num_output: 4 kernel_size: 5 stride: 2 weight_filler { type: "xavier" } } }
layer { name: "ip" type: "InnerProduct" bottom: "c" top: "ip"
        inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
P
STAGE="$WORK/stage"
run_staged() {
    (cd "$WORK" && "$MPIRUN" -np 2 "$TRAIN" --solver solver.prototxt --train cj.h5 --prefetch 3 \
        --stage-dir "$STAGE" --run-dir "run_$1" >"out_$1.txt" 2>&1)
}
run_staged 1; rc=$?
check "mpirun -np 2: JPEG dataset, crop/mirror/mean_file, staged (exit $rc)" test $rc -eq 0
[ $rc -eq 0 ] || diag_file "$WORK/out_1.txt"
check "first run copies the dataset to the stage dir" grep -q "staging: copied .*cj.h5" "$WORK/out_1.txt"
check "staged copy and its checksum file exist" test -s "$STAGE/cj.h5" -a -s "$STAGE/cj.h5.crc32"
check "staged copy equals the source" cmp -s "$WORK/cj.h5" "$STAGE/cj.h5"
run_staged 2; rc=$?
check "second run reuses the staged copy (exit $rc)" grep -q "staging: reusing" "$WORK/out_2.txt"
check "second run does not copy again" bash -c "! grep -q 'staging: copied' '$WORK/out_2.txt'"
printf 'XXXXXXXXXXXXXXXX' | dd of="$STAGE/cj.h5" bs=1 seek=2000 conv=notrunc status=none
run_staged 3; rc=$?
check "corrupted staged copy: detected" grep -q "does not match" "$WORK/out_3.txt"
check "corrupted staged copy: replaced, run succeeds (exit $rc)" test $rc -eq 0
check "corrupted staged copy: the new copy equals the source" cmp -s "$WORK/cj.h5" "$STAGE/cj.h5"
check "loss lines printed" grep -q "iter       6" "$WORK/out_3.txt"

done_testing
