#!/bin/bash
# test_caffe_io.sh - models in and out of Caffe's formats, checked with
# independent readers: the Caffe export (deploy.prototxt, weights.caffemodel,
# weights.caffemodel.h5) of a LeNet checkpoint read back with Python's
# protobuf (caffe_pb2 from the project's proto/caffe.proto by protoc) and
# h5py equals the checkpoint blob for blob; --weights from that .caffemodel,
# from a V1-form .caffemodel and from an h5py-written Caffe HDF5 file gives
# dltrain-eval the same probabilities as the checkpoint; layers missing on
# either side are listed, a shape mismatch names the layer and both shapes,
# files of other kinds are named for what they are; --resume refuses Caffe
# weights; dltrain-mpi --weights starts from the weights with a fresh solver.
. "$(dirname "$0")/lib.sh"
EVAL="$top_builddir/dltrain-eval"
EXPORT="$top_builddir/tests/export_caffe"
have_fmnist || skip_all "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
have_h5py || skip_all "python3 with h5py not found (apt-get install python3-h5py)"
command -v protoc > /dev/null || skip_all "protoc not found (apt-get install protobuf-compiler)"
"$PYTHON_H5PY" -c 'import google.protobuf' 2>/dev/null || skip_all "python3 protobuf not found (apt-get install python3-protobuf)"
fmnist_h5 || { fail "dltrain-prep builds the Fashion-MNIST sets"; done_testing; }
to() { local out=$1; shift; "$@" > "$out" 2>&1; } # to FILE CMD...: run with output in FILE
PY() { "$PYTHON_H5PY" "$top_srcdir/tests/caffe_io.py" "$WORK/pb2" "$@"; }
mkdir -p "$WORK/pb2" "$WORK/out"
protoc --proto_path="$top_srcdir/proto" --python_out="$WORK/pb2" "$top_srcdir/proto/caffe.proto" ||
    { fail "protoc --python_out generates caffe_pb2 from proto/caffe.proto"; done_testing; }

cp "$top_srcdir/nets/lenet_fashion_train_val.prototxt" "$WORK/"
sed -e 's/^test_interval:.*/test_interval: 100000/' -e 's/^display:.*/display: 20/' -e 's/^snapshot:.*/snapshot: 0/' \
    "$top_srcdir/nets/lenet_fashion_solver.prototxt" > "$WORK/solver.prototxt"
RUN="$WORK/run"
check "train LeNet 40 iterations (the checkpoint to export)" \
    to "$WORK/train.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$RUN" \
    --max-iter 40 --sample-interval 0
NET="$RUN/config/net.prototxt"
CKPT="$RUN/checkpoints/iter_00000040.h5"
check "export_caffe writes deploy.prototxt, weights.caffemodel, weights.caffemodel.h5" \
    to "$WORK/export.out" "$EXPORT" "$NET" "$CKPT" 1x28x28 "$WORK/out"

# deploy.prototxt: Input of the net's shape first, Softmax "prob" last, no data/loss/accuracy.
D="$WORK/out/deploy.prototxt"
check "deploy.prototxt starts with an Input layer of shape 1x1x28x28" \
    bash -c "grep -v '^#' '$D' | sed -n 3,7p | tr -d '\n ' | grep -q 'type:\"Input\"top:\"data\"input_param{shape{dim:1dim:1dim:28dim:28}}'"
check "... has no Data, SoftmaxWithLoss or Accuracy layer, and no include rule" \
    bash -c "! grep -v '^#' '$D' | grep -qE 'type: \"(Data|SoftmaxWithLoss|Accuracy)\"|include|phase'"
check "... ends in a Softmax named prob reading ip2" \
    bash -c "tail -6 '$D' | tr -d '\n ' | grep -q 'name:\"prob\"type:\"Softmax\"bottom:\"ip2\"top:\"prob\"'"

PY check-export "$CKPT" "$WORK/out" > "$WORK/py.txt" 2>&1
check "weights.caffemodel (Python protobuf) has every blob of the checkpoint, equal, in Caffe's shapes" \
    grep -q "^caffemodel_equal True" "$WORK/py.txt"
check "weights.caffemodel.h5 (h5py) has every blob of the checkpoint, equal, in Caffe's shapes" \
    grep -q "^h5_equal True" "$WORK/py.txt"
diag_file "$WORK/py.txt" 4

# The same forward from every kind of file.
PY write-v1 "$CKPT" "$WORK/v1.caffemodel" && PY write-h5 "$CKPT" "$WORK/py.caffemodel.h5" &&
    PY write-h5 "$CKPT" "$WORK/noconv1.caffemodel.h5" conv1 && PY write-mismatch "$CKPT" "$WORK/ip2half.caffemodel"
check "Python writes a V1-form .caffemodel and Caffe HDF5 weights" test -s "$WORK/v1.caffemodel" -a -s "$WORK/py.caffemodel.h5"
ev() { local tag=$1; shift; "$EVAL" --net "$NET" --data "$FMNIST_TEST" --probabilities "$WORK/p_$tag.txt" "$@" > "$WORK/ev_$tag.out" 2>&1; }
check "dltrain-eval --weights the checkpoint" ev ckpt --weights "$CKPT"
for k in exported:out/weights.caffemodel exported_h5:out/weights.caffemodel.h5 v1:v1.caffemodel py_h5:py.caffemodel.h5; do
    tag=${k%%:*} file=$WORK/${k#*:}
    if ev "$tag" --weights "$file" && cmp -s "$WORK/p_ckpt.txt" "$WORK/p_$tag.txt"; then
        ok "--weights ${k#*:}: the same 10,000 probability rows as the checkpoint (bit for bit)"
    else
        fail "--weights ${k#*:} gives the checkpoint's forward"; diag_file "$WORK/ev_$tag.out" 5
    fi
done
check "... the V1 file's layer that the net lacks is listed as skipped" \
    grep -q "not in the net, skipped: 'fc_not_in_net'" "$WORK/ev_v1.out"

# Mismatches and missing layers.
ev ip2half --weights "$WORK/ip2half.caffemodel"
check "a shape mismatch is refused naming the layer and both shapes" \
    grep -q "layer 'ip2' blob 0: shape (5,500) there, (10,500) in the net" "$WORK/ev_ip2half.out"
ev noconv1 --weights "$WORK/noconv1.caffemodel.h5"
check "dltrain-eval refuses weights without a layer of the net, naming it" \
    grep -q "no weights for layer 'conv1'" "$WORK/ev_noconv1.out"
ev dataset --weights "$FMNIST_TEST"
check "a dataset given as weights: 'is a dltrain dataset; expected weights'" \
    grep -q "is a dltrain dataset (from dltrain-prep); expected weights" "$WORK/ev_dataset.out"
ev text --weights "$NET"
check "a prototxt given as weights: 'is a text file'" grep -q "is a text file" "$WORK/ev_text.out"

# dltrain-mpi: --resume refuses Caffe weights; --weights starts from them.
to "$WORK/resume.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/r1" \
    --resume "$WORK/out/weights.caffemodel" --sample-interval 0
check "--resume W.caffemodel: 'this is Caffe weights ... use --weights'" \
    grep -q "this is Caffe weights.*use --weights" "$WORK/resume.out"
to "$WORK/resume_h5.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/r1" \
    --resume "$WORK/py.caffemodel.h5" --sample-interval 0
check "--resume W.caffemodel.h5: the same" grep -q "this is Caffe weights.*use --weights" "$WORK/resume_h5.out"
sed -i -e 's/^test_iter:.*/test_iter: 100/' "$WORK/solver.prototxt"
check "dltrain-mpi --weights noconv1.caffemodel.h5,v1.caffemodel trains 1 iteration" \
    to "$WORK/w.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --val "$FMNIST_TEST" \
    --run-dir "$WORK/w" --weights "$WORK/noconv1.caffemodel.h5,$WORK/v1.caffemodel" --max-iter 1 --sample-interval 0
check "... copies conv1 from the second file (no layer left to its filler)" \
    bash -c "grep -q 'weights from .*v1.caffemodel: 4 layers copied' '$WORK/w.out' && ! grep -q 'initialized by their fillers' '$WORK/w.out'"
check "dltrain-mpi --weights noconv1.caffemodel.h5 alone trains 1 iteration" \
    to "$WORK/w1.out" "$TRAIN" --solver "$WORK/solver.prototxt" --train "$FMNIST_TRAIN" --run-dir "$WORK/w1" \
    --weights "$WORK/noconv1.caffemodel.h5" --max-iter 1 --sample-interval 0
check "... and lists conv1 once as left to its filler, fc_not_in_net once as skipped" \
    bash -c "test \$(grep -c \"initialized by their fillers: 'conv1'\" '$WORK/w1.out') = 1 &&
             test \$(grep -c \"skipped: 'fc_not_in_net'\" '$WORK/w1.out') = 1"
check "... the solver starts fresh (first checkpoint is iteration 1)" test -f "$WORK/w/checkpoints/iter_00000001.h5"
acc_eval=$(sed -n 's/^top-1 accuracy: \([0-9.]*\).*/\1/p' "$WORK/ev_ckpt.out")
acc_w=$("$PYTHON_H5PY" -c 'import json,sys; print("%.4f" % [json.loads(l) for l in open(sys.argv[1]) if "\"test\"" in l][0]["test_top1"])' "$WORK/w/metrics.jsonl")
check "... its test at iteration 0 has the checkpoint's accuracy ($acc_w = $acc_eval): the weights reached the net" \
    test "$acc_w" = "$acc_eval"
check "--resume FILE with --weights is a usage error (status 2)" \
    bash -c "'$TRAIN' --solver x --train y --run-dir z --resume '$CKPT' --weights '$CKPT' 2>/dev/null; test \$? -eq 2"
done_testing
