/* test_gpu_recurrent.c - the caption layers on the GPU against the CPU
 * (gpu_compare.h): test_gpu_recurrent_net.h's net (Embed, Bias in place and not,
 * AttentionLSTM with all three tops and the doubly stochastic penalty, and
 * with init_state, LSTM with a static input, and with expose_hidden, Slice
 * and Reshape over the caption Data layer's tops, a caption restarting
 * mid-batch); then both captioners of nets/ at a small batch.
 * Each layer on the CPU layer's inputs, forward and backward, then end to
 * end. Skips without a usable GPU. Tolerances (max |gpu - cpu| / max |cpu|
 * per blob): forward 1e-4, gradients 1e-3 for the small net (the GPU's
 * expf/tanhf and cuBLAS's summation order differ from the CPU's in the
 * last bits, and a recurrence carries that through the steps); the
 * captioners' 5e-4 / 2e-3 as test_gpu_nets' convolution nets. */
#include "gpu_compare.h"
#include "net_files.h"
#include "test_gpu_recurrent_net.h"

int main(void)
{
    gc_require_gpu(1);
    gc_fill = rn_fill_captions;
    dlt_cfg *root = NULL;
    int st = dlt_pt_parse_string(rn_net_text, "test_gpu_recurrent.c", &root);
    TEST_OK(st == 0, "the recurrent test net parses (status %d)", st);
    if (st == 0) {
        gc_seq_steps = RN_STEPS;
        gc_compare_net("recurrent layers", root, 2, 3, 3, 7, NULL, 1e-4, 1e-3, 1);
    }
    dlt_cfg_free(root);
    for (int i = 0; i < RN_NCAPTIONERS; i++) {
        root = NULL;
        st = tn_load(rn_captioners[i], RN_CAPTION_BATCH, &root);
        TEST_OK(st == 0, "%s parses", rn_captioners[i]);
        if (st == 0) {
            gc_seq_steps = RN_CAPTION_STEPS;
            gc_compare_net(rn_captioners[i], root, 1, 84, 84, RN_CAPTION_VOCAB, NULL, 5e-4, 2e-3, 0);
        }
        dlt_cfg_free(root);
    }
    TEST_DONE();
}
