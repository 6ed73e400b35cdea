/* test_gpu_recurrent_net.h - test helper: a small net over the caption Data layer's
 * tops (image (3,2,3,3), input words, target words, cont; T = RN_STEPS
 * steps, 7 word ids) that uses every caption layer in every form: Embed,
 * Bias (in place and not), AttentionLSTM (all three tops, the doubly
 * stochastic penalty; and init_state), LSTM (a static input; and
 * expose_hidden with h0/c0 from Reshape), Slice, Concat over axis 2,
 * SoftmaxWithLoss over axis 2 with ignore_label; the batch filler; and the
 * captioners both tests also run.
 * Shared by tests/test_gpu_recurrent.c (the GPU) and
 * tests/gpu_emulate/test_gpu_emulated.cc (the same kernels on the CPU). */
#ifndef DLTRAIN_TESTS_TEST_GPU_RECURRENT_NET_H
#define DLTRAIN_TESTS_TEST_GPU_RECURRENT_NET_H

#include <stdint.h>

#include "dltrain/layer.h"
#include "dltrain/net.h"
#include "dltrain/tensor.h"

enum { RN_STEPS = 5 }; /* T of the net below */

/* Both captioners of nets/ (1x84x84 images), as the two tests run them:
 * batch 2, T = 12 steps, 64 word ids (their Embed's input_dim). */
static const char *const rn_captioners[] = {"caption_attention_train_val.prototxt",
                                            "caption_lrcn_train_val.prototxt"};
enum { RN_NCAPTIONERS = 2, RN_CAPTION_BATCH = 2, RN_CAPTION_STEPS = 12, RN_CAPTION_VOCAB = 64 };

static const char *rn_net_text =
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
static void rn_fill_captions(dlt_net *cpu, dlt_net *gpu, int classes, uint64_t seed)
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

#endif
