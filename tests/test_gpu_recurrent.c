/* test_gpu_recurrent.c - the caption layers on the GPU against the CPU
 * (gpu_compare.h): Embed, Bias (in place and not), AttentionLSTM (all
 * three tops, the doubly stochastic penalty; and init_state), LSTM (with a
 * static input; and expose_hidden with h0/c0 bottoms), Slice and Reshape,
 * in one small net over the caption Data layer's tops (image, input words,
 * target words, cont), with a caption restarting mid-batch (cont 0 at
 * t = 2 for sample 1); then both captioners of nets/ at a small batch.
 * Each layer on the CPU layer's inputs, forward and backward, then end to
 * end. Skips without a usable GPU. Tolerances (max |gpu - cpu| / max |cpu|
 * per blob): forward 1e-4, gradients 1e-3 for the small net (the GPU's
 * expf/tanhf and cuBLAS's summation order differ from the CPU's in the
 * last bits, and a recurrence carries that through the steps); the
 * captioners' 5e-4 / 2e-3 as test_gpu_nets' convolution nets. */
#include "gpu_compare.h"
#include "net_files.h"

enum { T = 5 };

static const char *net_text =
    "name: 'gpu_recurrent'\n"
    "layer { name: 'data' type: 'Data' top: 'data' top: 'words' top: 'target' top: 'cont'\n"
    "  data_param { batch_size: 3 } }\n"
    "layer { name: 'pos' type: 'Bias' bottom: 'data' top: 'feat'\n"
    "  bias_param { axis: 1 num_axes: -1 filler { type: 'uniform' min: -0.5 max: 0.5 } } }\n"
    "layer { name: 'chan' type: 'Bias' bottom: 'feat' top: 'feat'\n"
    "  bias_param { filler { type: 'uniform' min: -0.5 max: 0.5 } } }\n"
    "layer { name: 'embed' type: 'Embed' bottom: 'words' top: 'emb'\n"
    "  embed_param { num_output: 6 input_dim: 7 weight_filler { type: 'uniform' min: -0.8 max: 0.8 }\n"
    "    bias_filler { type: 'uniform' min: -0.2 max: 0.2 } } }\n"
    "layer { name: 'att' type: 'AttentionLSTM' bottom: 'feat' bottom: 'emb' bottom: 'cont'\n"
    "  top: 'h' top: 'alpha' top: 'ctx'\n"
    "  attention_lstm_param { num_output: 5 attention_dim: 4 doubly_stochastic: 0.5\n"
    "    weight_filler { type: 'uniform' min: -0.5 max: 0.5 }\n"
    "    bias_filler { type: 'uniform' min: -0.2 max: 0.2 } } }\n"
    "layer { name: 'att_init' type: 'AttentionLSTM' bottom: 'feat' bottom: 'emb' bottom: 'cont' top: 'hi'\n"
    "  attention_lstm_param { num_output: 4 attention_dim: 3 init_state: true\n"
    "    weight_filler { type: 'uniform' min: -0.5 max: 0.5 }\n"
    "    bias_filler { type: 'uniform' min: -0.2 max: 0.2 } } }\n"
    "layer { name: 'img' type: 'InnerProduct' bottom: 'feat' top: 'img'\n"
    "  inner_product_param { num_output: 4 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'lstm' type: 'LSTM' bottom: 'emb' bottom: 'cont' bottom: 'img' top: 'hl'\n"
    "  recurrent_param { num_output: 5 weight_filler { type: 'uniform' min: -0.5 max: 0.5 }\n"
    "    bias_filler { type: 'uniform' min: -0.2 max: 0.2 } } }\n"
    "layer { name: 'h0ip' type: 'InnerProduct' bottom: 'feat' top: 'h0f'\n"
    "  inner_product_param { num_output: 3 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'h0' type: 'Reshape' bottom: 'h0f' top: 'h0' reshape_param { shape { dim: 1 dim: 3 dim: 3 } } }\n"
    "layer { name: 'c0ip' type: 'InnerProduct' bottom: 'feat' top: 'c0f'\n"
    "  inner_product_param { num_output: 3 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'c0' type: 'Reshape' bottom: 'c0f' top: 'c0' reshape_param { shape { dim: 1 dim: 3 dim: 3 } } }\n"
    "layer { name: 'lstm2' type: 'LSTM' bottom: 'emb' bottom: 'cont' bottom: 'h0' bottom: 'c0'\n"
    "  top: 'hl2' top: 'hT' top: 'cT'\n"
    "  recurrent_param { num_output: 3 expose_hidden: true\n"
    "    weight_filler { type: 'uniform' min: -0.5 max: 0.5 }\n"
    "    bias_filler { type: 'uniform' min: -0.2 max: 0.2 } } }\n"
    "layer { name: 'split' type: 'Slice' bottom: 'alpha' top: 'a1' top: 'a2'\n"
    "  slice_param { axis: 2 slice_point: 4 } }\n"
    "layer { name: 'cat' type: 'Concat' bottom: 'h' bottom: 'ctx' bottom: 'hi' bottom: 'hl' bottom: 'hl2'\n"
    "  bottom: 'a1' bottom: 'a2' top: 'deep' concat_param { axis: 2 } }\n"
    "layer { name: 'pred' type: 'InnerProduct' bottom: 'deep' top: 'scores'\n"
    "  inner_product_param { num_output: 7 axis: 2 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'scores' bottom: 'target' top: 'loss'\n"
    "  softmax_param { axis: 2 } loss_param { ignore_label: 0 } }\n"
    "layer { name: 'lastcat' type: 'Concat' bottom: 'hT' bottom: 'cT' top: 'last' concat_param { axis: 0 } }\n"
    "layer { name: 'lastip' type: 'InnerProduct' bottom: 'last' top: 'lastip'\n"
    "  inner_product_param { num_output: 7 axis: 2 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'lastlabel' type: 'Slice' bottom: 'target' top: 'lt' top: 'rest'\n"
    "  slice_param { axis: 0 slice_point: 2 } }\n"
    "layer { name: 'lastloss' type: 'SoftmaxWithLoss' bottom: 'lastip' bottom: 'lt' top: 'lastloss'\n"
    "  softmax_param { axis: 2 } loss_param { ignore_label: 0 } }\n";

/* The caption Data layer's tops as the loader fills them: the image in
 * [-1, 1), input and target word ids below CLASSES (target 0 = <pad>,
 * ignored), cont 0 at t = 0 and where sample 1's second caption starts. */
static void fill_captions(dlt_net *cpu, dlt_net *gpu, int classes, uint64_t seed)
{
    dlt_layer *dc = dlt_net_data_layer(cpu), *dg = dlt_net_data_layer(gpu);
    dlt_rng rng;
    dlt_rng_seed(&rng, seed);
    for (size_t i = 0; i < dc->top[0]->count; i++)
        dc->top[0]->data[i] = dg->top[0]->data[i] = (float)(dlt_rng_uniform(&rng) * 2 - 1);
    const int steps = dc->top[3]->n, n = (int)(dc->top[3]->count / (size_t)steps);
    for (int t = 0; t < steps; t++)
        for (int s = 0; s < n; s++) {
            const size_t k = (size_t)t * n + s;
            const float word = (float)dlt_rng_below(&rng, (uint64_t)classes);
            const float target = (float)dlt_rng_below(&rng, (uint64_t)classes);
            const float cont = t == 0 || (s == 1 && t == 2) ? 0.0f : 1.0f;
            dc->top[1]->data[k] = dg->top[1]->data[k] = word;
            dc->top[2]->data[k] = dg->top[2]->data[k] = target;
            dc->top[3]->data[k] = dg->top[3]->data[k] = cont;
        }
}

int main(void)
{
    gc_require_gpu(1);
    gc_fill = fill_captions;
    dlt_cfg *root = NULL;
    int st = dlt_pt_parse_string(net_text, "test_gpu_recurrent.c", &root);
    TEST_OK(st == 0, "the recurrent test net parses (status %d)", st);
    if (st == 0) {
        gc_seq_steps = T;
        gc_compare_net("recurrent layers", root, 2, 3, 3, 7, NULL, 1e-4, 1e-3, 1);
    }
    dlt_cfg_free(root);
    static const char *captioners[] = {"caption_attention_train_val.prototxt", "caption_lrcn_train_val.prototxt"};
    for (size_t i = 0; i < sizeof captioners / sizeof captioners[0]; i++) {
        root = NULL;
        st = tn_load(captioners[i], 2, &root);
        TEST_OK(st == 0, "%s parses", captioners[i]);
        if (st == 0) {
            gc_seq_steps = 12;
            gc_compare_net(captioners[i], root, 1, 84, 84, 64, NULL, 5e-4, 2e-3, 0);
        }
        dlt_cfg_free(root);
    }
    TEST_DONE();
}
