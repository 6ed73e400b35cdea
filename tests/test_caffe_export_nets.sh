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
# A small net whose output is a Softmax (no loss) gets the layers the ONNX
# writer keeps (src/export/deploy.c's plan): Dropout kept as a layer, the
# side branch dropped, Softmax "prob" on the Softmax's input; a net with no
# loss or Softmax is refused, as for ONNX.
. "$(dirname "$0")/lib.sh"
EXPORT="$top_builddir/tests/export_caffe"
command -v protoc > /dev/null || skip_all "protoc not found (apt-get install protobuf-compiler)"
"$PYTHON_H5PY" -c 'import google.protobuf' 2>/dev/null || skip_all "python3 protobuf not found (apt-get install python3-protobuf)"
mkdir -p "$WORK/pb2"
protoc --proto_path="$top_srcdir/proto" --python_out="$WORK/pb2" "$top_srcdir/proto/caffe.proto"
for f in "$top_srcdir"/nets/*_train_val.prototxt; do
    n=$(basename "$f" _train_val.prototxt)
    case $n in
    caption_*) continue ;; # captioners: no deploy form (a decoder run step by step); dltrain-caption
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

# The deployed layers are the plan's: a Softmax output without a loss.
T="$WORK/tiny"
mkdir -p "$T/out" "$T/none"
cat > "$T/net.prototxt" <<'NET'
name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label" data_param { source: "unused" batch_size: 1 } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1" inner_product_param { num_output: 8 } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "drop1" type: "Dropout" bottom: "ip1" top: "d1" dropout_param { dropout_ratio: 0.5 } }
layer { name: "side" type: "InnerProduct" bottom: "ip1" top: "side" inner_product_param { num_output: 2 } }
layer { name: "ip2" type: "InnerProduct" bottom: "d1" top: "ip2" inner_product_param { num_output: 3 } }
layer { name: "out" type: "Softmax" bottom: "ip2" top: "out" }
NET
sed '/name: "out"/d' "$T/net.prototxt" > "$T/none.prototxt"
"$EXPORT" "$T/net.prototxt" - 1x4x4 "$T/out" > "$T/log" 2>&1
names=$(grep -v '^#' "$T/out/deploy.prototxt" | sed -n 's/^  name: "\(.*\)"$/\1/p' | tr '\n' ' ')
if [ "$names" = "data ip1 relu1 drop1 ip2 prob " ] &&
    tail -6 "$T/out/deploy.prototxt" | tr -d '\n ' | grep -q 'name:"prob"type:"Softmax"bottom:"ip2"top:"prob"}$'; then
    ok "Softmax output, no loss: deploy.prototxt keeps ip1 relu1 drop1 ip2 (not side), Softmax prob on ip2"
else
    fail "Softmax output, no loss: deploy layers '$names'"; diag_file "$T/log" 5; diag_file "$T/out/deploy.prototxt" 30
fi
if "$EXPORT" "$T/none.prototxt" - 1x4x4 "$T/none" > "$T/none.log" 2>&1; then
    fail "a net with no loss or Softmax layer is refused"
else
    check "a net with no loss or Softmax layer is refused, naming the file and what is missing" \
        grep -q "none.prototxt: the TEST phase has no SoftmaxWithLoss or Softmax layer" "$T/none.log"
fi
done_testing
