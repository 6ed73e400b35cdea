/* net.h - a network built from a Caffe NetParameter for one phase. */
#ifndef DLTRAIN_NET_H
#define DLTRAIN_NET_H

#include <stddef.h>
#include <stdint.h>
#include "dltrain/device.h"
#include "dltrain/layer.h"

typedef struct dlt_net dlt_net;

/* Build the layers of PHASE (include/exclude { phase } rules as Caffe),
 * wire bottoms/tops by name (in-place allowed), allocate all parameters
 * in one flat buffer (layer order, so a reverse-order bucket is one
 * contiguous range) and fill them from SEED. input_* is the dataset's
 * sample shape for data layers. COMPUTE (copied; NULL: the defaults of
 * dlt_compute_ctx_init) is how the net's layers compute: convolution
 * backend, threads, cuDNN settings. Errors name the prototxt FILE:LINE:COL. */
int dlt_net_create(const dlt_cfg *netparam, int phase, int input_c, int input_h,
                   int input_w, uint64_t seed, const dlt_compute_ctx *compute, dlt_net **out);
/* The same for a caption dataset: SEQ_LEN is the time steps T of a
 * caption data layer's word tops (its T_max + 1, or the loader's), unless
 * the layer's data_param sequence_length says otherwise. */
int dlt_net_create_seq(const dlt_cfg *netparam, int phase, int input_c, int input_h,
                       int input_w, int seq_len, uint64_t seed, const dlt_compute_ctx *compute,
                       dlt_net **out);
/* Whether the `layer { }` message LP belongs to PHASE by its include/exclude
 * { phase } rules, as dlt_net_create decides (for exporters that walk the
 * prototxt). 0 or DLT_ERR_PARSE naming FILE:LINE:COL. */
int dlt_net_layer_in_phase(const dlt_cfg *lp, int phase, int *in);
/* The settings the net was built with. */
const dlt_compute_ctx *dlt_net_compute(const dlt_net *net);
void dlt_net_free(dlt_net *net);

/* Make NET use OTHER's parameter buffer (the TEST net shares the TRAIN
 * net's weights, as in Caffe). Parameter shapes must match by layer name. */
int dlt_net_share_params(dlt_net *net, const dlt_net *other);

/* Make NET's activation blobs (data and diff) views of OTHER's blobs of the
 * same name where those are large enough (not the data layer's tops): a
 * TEST net that runs only between TRAIN steps then needs almost no memory
 * of its own. Each NET forward overwrites OTHER's activations, so run
 * OTHER's forward again before its backward. Returns the blobs shared. */
int dlt_net_share_blobs(dlt_net *net, const dlt_net *other);

/* Forward pass; returns the weighted sum of losses. */
float dlt_net_forward(dlt_net *net);
/* The forward pass of layers FIRST.. only (their losses), for callers that
 * changed an input only those read (step-by-step caption decoding reruns
 * the decoder, not the encoder). The layers before keep their tops. */
float dlt_net_forward_from(dlt_net *net, int first);
/* Backward pass; parameter gradients are accumulated (+=) into the grad
 * buffer, so call dlt_net_zero_grads first (iter_size accumulates). */
void dlt_net_backward(dlt_net *net);
void dlt_net_zero_grads(dlt_net *net);
/* 1 when layer INDEX's forward is done by an earlier layer's (a fused
 * chain: BatchNorm + Scale + ReLU at inference, Convolution + ReLU), so
 * dlt_net_forward skips it; per-layer profiles skip it too. */
int dlt_net_layer_fused(const dlt_net *net, int index);
/* Layer I's part of dlt_net_backward (split-blob gradients summed, then its
 * backward), for per-layer profiles; returns 0 when the layer has nothing
 * to do. */
int dlt_net_backward_layer(dlt_net *net, int index);
/* The first half of dlt_net_backward_layer: the diffs of split copies of
 * layer INDEX's tops summed into the tops (for tests that run layers one
 * at a time); returns 0 when the layer has no backward work. */
int dlt_net_sum_split_diffs(dlt_net *net, int index);

/* Memory: let blob diffs that are never live at the same time share
 * buffers. A blob's diff is live during backward only, from the first of
 * its consumers' backward to its producer's, so blobs whose layer ranges
 * do not overlap can use the same memory (GoogLeNet b16: 658 MB of diff
 * buffers). Call before dlt_net_share_blobs and before moving the net to a
 * device. After it, a blob's diff is only meaningful while backward is
 * between its consumers and its producer: code that reads blob diffs after
 * a whole backward (tests) must not use it. Returns the bytes saved. */
size_t dlt_net_share_diffs(dlt_net *net);

/* Called by dlt_net_backward before each layer's backward and once at the
 * end: layers >= LAYER are done, so gradients at offsets >= DONE_FROM in
 * the flat grad buffer are final (lets the communicator start reducing
 * them while backward goes on). NULL FN removes the hook. */
typedef void (*dlt_backward_hook)(void *ctx, int layer, size_t done_from);
void dlt_net_set_backward_hook(dlt_net *net, dlt_backward_hook fn, void *ctx);

/* Loss scaling (--precision amp): loss layers seed backward with their
 * loss_weight x SCALE, so every gradient comes out SCALE times larger;
 * dlt_net_forward still returns the unscaled loss. SCALE is a power of
 * two (exact both ways); 1 (the default) is none. The net's precision
 * (its dlt_compute_ctx) rounds activations and gradients as 16-bit
 * storage would for amp and bf16, on the host or on the device. */
void dlt_net_set_loss_scale(dlt_net *net, double scale);

/* All parameters / gradients as one contiguous buffer each. */
size_t dlt_net_param_count(const dlt_net *net);
float *dlt_net_params(dlt_net *net);
float *dlt_net_grads(dlt_net *net);

int dlt_net_num_layers(const dlt_net *net);
dlt_layer *dlt_net_layer(const dlt_net *net, int index);
/* Layer INDEX's `layer { }` message in the NetParameter the net was built
 * from (its bottom and top names, for model export); valid while that
 * tree is. */
const dlt_cfg *dlt_net_layer_cfg(const dlt_net *net, int index);
const char *dlt_net_name(const dlt_net *net);

/* The tensor of blob NAME (the last one of that name), or NULL. */
dlt_tensor *dlt_net_blob(const dlt_net *net, const char *name);
/* Give every layer RNG (not owned; NULL for none): stochastic layers draw
 * from it, so a checkpoint of its state resumes them bit-exactly. */
void dlt_net_set_rng(dlt_net *net, dlt_rng *rng);

/* The first data layer (its transform_param and batch_size), or NULL. */
dlt_layer *dlt_net_data_layer(const dlt_net *net);

/* Input. The net owns its input buffers (the data layer's tops, copied
 * to the device by the layer's forward); callers never touch the layer's
 * tensors. dlt_net_input gives a view of them, (batch_size, c, h, w) and
 * (batch_size) labels (NULL when the data layer has no label top), for a
 * loader to fill in place before the next forward (no copy);
 * dlt_net_set_input copies BATCH in: at most batch_size samples of the
 * input's shape, the rest of the batch zero, labels zero when BATCH has
 * none. Both fail (DLT_ERR_ARG) when the net has no data layer; set_input
 * also on a shape mismatch, naming both shapes. */
int dlt_net_input(dlt_net *net, dlt_batch *view);
int dlt_net_set_input(dlt_net *net, const dlt_batch *batch);

/* Net outputs: tops no other layer consumes (losses, accuracies), as in
 * Caffe's "Test net output #i: name = value". */
int dlt_net_num_outputs(const dlt_net *net);
const char *dlt_net_output_name(const dlt_net *net, int index);
/* Mean of the output blob (a loss or accuracy is a scalar). */
float dlt_net_output_value(const dlt_net *net, int index);
/* 1 if output INDEX comes from a loss layer. */
int dlt_net_output_is_loss(const dlt_net *net, int index);

/* GPU runs. Move the net to KIND (DLT_DEVICE_CPU: nothing to do): device
 * copies of every blob and of the flat parameter/gradient buffers, then
 * each layer's setup_gpu; a layer type without GPU code is an error that
 * names it. A net sharing parameters moves after its owner. The host
 * buffers stay the interface: grads_to_host before host code reads the
 * gradients, params_to_device after host code changed the parameters
 * (both no-ops on the CPU). */
int dlt_net_to_device(dlt_net *net, dlt_device_kind kind);
void dlt_net_grads_to_host(dlt_net *net);
void dlt_net_params_to_device(dlt_net *net);
void dlt_net_params_to_host(dlt_net *net); /* after a device solver step, before host reads */
/* Residency: the net owns where its parameters live. DLT_DEVICE once
 * dlt_net_to_device moved it to a GPU, else DLT_HOST. */
dlt_memory dlt_net_memory(const dlt_net *net);
/* Make the parameters current in WHERE: DLT_HOST before host code reads
 * them (a checkpoint, an evaluation on the host), DLT_DEVICE after host
 * code wrote them. No-op for a net on the host. */
void dlt_net_sync(dlt_net *net, dlt_memory where);
/* Log (dlt_info) how the net computes where it lives: on the host the
 * convolution backend, the idle-thread settings in force and the CPU
 * instruction set; on a GPU the cuDNN workspace limit and determinism. */
void dlt_net_describe_compute(const dlt_net *net);
/* The flat gradient buffer where backward writes it, in dlt_net_memory:
 * what the gradient reducer averages. */
float *dlt_net_compute_grads(dlt_net *net);
/* Wait until the net's queued device work is done (so that a timer
 * started now measures only what follows); no-op on the host. */
void dlt_net_wait(dlt_net *net);
/* Device copies of the flat buffers; NULL on the CPU. */
float *dlt_net_device_params(dlt_net *net);
float *dlt_net_device_grads(dlt_net *net);

#endif
