#!/bin/bash
# test_caffe_export_nets.sh - every network in nets/ round-trips through
# Caffe's formats: its TEST net (fillers, seed 1) exported, then loaded back
# with --weights into the same net with other fillers (seeds 2 and 3) from
# weights.caffemodel and from weights.caffemodel.h5, and exported again:
# the .caffemodel files are byte-identical (every blob came back), while a
# seed-2 net without --weights exports differently (so loading did it).
# deploy.prototxt has an Input layer, a Softmax "prob" after the last
# classifier and no data, loss or accuracy layer (GoogLeNet: no auxiliary
# classifier); Python's protobuf parses each .caffemodel.
. "$(dirname "$0")/lib.sh"
EXPORT="$top_builddir/tests/export_caffe"
command -v protoc > /dev/null || skip_all "protoc not found (apt-get install protobuf-compiler)"
"$PYTHON_H5PY" -c 'import google.protobuf' 2>/dev/null || skip_all "python3 protobuf not found (apt-get install python3-protobuf)"
mkdir -p "$WORK/pb2"
protoc --proto_path="$top_srcdir/proto" --python_out="$WORK/pb2" "$top_srcdir/proto/caffe.proto"
for f in "$top_srcdir"/nets/*_train_val.prototxt; do
    n=$(basename "$f" _train_val.prototxt)
    case $n in
    lenet* | fashion*) shape=1x28x28 ;;
    cifar10*) shape=3x32x32 ;;
    *) shape=3x256x256 ;;
    esac
    d="$WORK/$n"
    mkdir -p "$d/s1" "$d/pb" "$d/h5" "$d/s2"
    sed 's/batch_size: [0-9]*/batch_size: 1/' "$f" > "$d/net.prototxt" # deploy uses batch 1 anyway
    if "$EXPORT" "$d/net.prototxt" - $shape "$d/s1" 1 > "$d/log" 2>&1 &&
        "$EXPORT" "$d/net.prototxt" "$d/s1/weights.caffemodel" $shape "$d/pb" 2 >> "$d/log" 2>&1 &&
        "$EXPORT" "$d/net.prototxt" "$d/s1/weights.caffemodel.h5" $shape "$d/h5" 3 >> "$d/log" 2>&1 &&
        "$EXPORT" "$d/net.prototxt" - $shape "$d/s2" 2 >> "$d/log" 2>&1 &&
        cmp -s "$d/s1/weights.caffemodel" "$d/pb/weights.caffemodel" &&
        cmp -s "$d/s1/weights.caffemodel" "$d/h5/weights.caffemodel" &&
        ! cmp -s "$d/s1/weights.caffemodel" "$d/s2/weights.caffemodel"; then
        ok "$n: .caffemodel and .caffemodel.h5 round-trip every blob"
    else
        fail "$n: round trip"; diag_file "$d/log" 5
    fi
    D="$d/s1/deploy.prototxt"
    if grep -v '^#' "$D" | sed -n 3,7p | tr -d '\n ' | grep -q "type:\"Input\"top:\"data\"input_param{shape{dim:1dim:${shape//x/dim:}}}" &&
        ! grep -v '^#' "$D" | grep -qE 'type: "(Data|SoftmaxWithLoss|Accuracy)"|include|loss1/|loss2/' &&
        tail -6 "$D" | tr -d '\n ' | grep -q 'name:"prob"type:"Softmax"bottom:"[^"]*"top:"prob"}$'; then
        ok "$n: deploy.prototxt: Input $shape, no data/loss/accuracy/auxiliary layers, Softmax prob last"
    else
        fail "$n: deploy.prototxt"; diag_file "$D" 12
    fi
    "$PYTHON_H5PY" - "$WORK/pb2" "$d/s1/weights.caffemodel" > "$d/py" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import caffe_pb2
net = caffe_pb2.NetParameter()
net.ParseFromString(open(sys.argv[2], "rb").read())
blobs = [b for l in net.layer for b in l.blobs]
ok = len(blobs) > 0 and all(len(b.data) == eval("*".join(map(str, b.shape.dim)) or "0") for b in blobs)
print("parsed", len(net.layer), "layers", len(blobs), "blobs", ok)
PY
    check "$n: Python protobuf parses weights.caffemodel, each blob's data matching its shape" \
        grep -q "blobs True" "$d/py"
    rm -rf "$d/pb" "$d/h5" "$d/s2" # the large nets' copies
done
done_testing
