"""onnx_check.py - the independent side of tests/test_export_onnx.sh:
onnxruntime runs an exported model.onnx on the batch export_forward gave
dltrain, and its "prob" must equal dltrain's TEST-phase softmax to 1e-4
relative (numpy.allclose, rtol 1e-4, atol 1e-7); the class scores that
feed the softmax (made a second output here) must agree to 1e-4 of their
largest magnitude, so that a saturated softmax cannot hide a difference.
onnx's checker validates the file when the onnx package is installed.

usage: onnx_check.py MODEL.onnx DIR   (DIR: input.f32, scores.f32, prob.f32, shape.txt)
prints the differences and exits 1 when they disagree."""
import sys

import numpy as np
import onnxruntime as ort


def main():
    model, d = sys.argv[1], sys.argv[2]
    b, c, h, w, k = (int(v) for v in open(d + "/shape.txt").read().split())
    x = np.fromfile(d + "/input.f32", dtype=np.float32).reshape(b, c, h, w)
    want = np.fromfile(d + "/prob.f32", dtype=np.float32).reshape(b, k)
    scores_want = np.fromfile(d + "/scores.f32", dtype=np.float32).reshape(b, k)
    import onnx
    m = onnx.load(model)
    onnx.checker.check_model(m)
    assert m.opset_import[0].version >= 13, "opset %d" % m.opset_import[0].version
    assert [o.name for o in m.graph.output] == ["prob"], m.graph.output
    # The scores: the input of the node that makes "prob", as a second output.
    scores = [n.input[0] for n in m.graph.node if "prob" in n.output][0]
    m.graph.output.append(onnx.helper.make_empty_tensor_value_info(scores))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    # No graph rewrites: the model's own operations are what is checked.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].name == "data", "input %s" % sess.get_inputs()[0].name
    got, got_scores = sess.run(["prob", scores], {"data": x})
    got, got_scores = got.reshape(b, k), got_scores.reshape(b, k)
    diff = np.abs(got.astype(np.float64) - want)
    rel = diff / np.maximum(np.abs(want), 1e-30)
    sdiff = np.abs(got_scores.astype(np.float64) - scores_want).max()
    srel = sdiff / max(np.abs(scores_want).max(), 1e-30)
    print("prob max_abs %.3g max_rel %.3g, scores max_rel %.3g (onnx.checker ok; "
          "max prob %.3g, max |score| %.3g)"
          % (diff.max(), rel.max(), srel, want.max(), np.abs(scores_want).max()))
    if srel > 1e-4:
        print("MISMATCH of the scores %s: %.3g of the largest" % (scores, srel))
        return 1
    if not np.allclose(got, want, rtol=1e-4, atol=1e-7):
        i = np.unravel_index(np.argmax(diff - 1e-4 * np.abs(want)), diff.shape)
        print("MISMATCH at %s: onnxruntime %.9g dltrain %.9g" % (i, got[i], want[i]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
