/* fuzz_net.c - libFuzzer harness: prototxt text -> parser -> net setup for
 * TRAIN -> one forward and backward at batch 1 on a small input, as
 * dltrain-mpi would run it. Nets whose tensors, parameters or work exceed
 * the bounds below are refused after setup (whose large buffers are
 * untouched calloc pages) and before anything runs; a net whose setup
 * cannot allocate at all ends in the library's dlt_fatal, trapped here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/layer.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "fuzz_util.h"

/* The input the data layer gets: 3 x 16 x 16 is small, and LeNet,
 * CIFAR-10 and most of nets/ still set up on it. */
enum { IN_C = 3, IN_H = 16, IN_W = 16 };
#define MAX_TEXT 16384
#define MAX_LAYERS 64
#define MAX_ELEMENTS ((size_t)4 << 20) /* activations, all blobs together */
#define MAX_PARAMS ((size_t)4 << 20)
#define MAX_WORK ((size_t)200 << 20)   /* multiply-adds, estimated per forward */

/* ASan: an allocation over 256 MiB returns NULL (dlt_malloc's fatal,
 * trapped during setup) instead of counting as a libFuzzer OOM. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=256";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* Every batch_size in the tree becomes 1 (the net runs at batch 1). */
static void force_batch_one(dlt_cfg *node)
{
    for (; node; node = node->next) {
        if (node->kind == DLT_CFG_NUMBER && strcmp(node->name, "batch_size") == 0) {
            free(node->text);
            node->text = dlt_strdup("1");
        }
        force_batch_one(node->child);
    }
}

/* The blobs' elements, the parameters and the work of one forward
 * (parameters times output positions for layers that have them, plus
 * every top's elements); 0 when within the bounds. */
static int too_big(dlt_net *net)
{
    size_t elements = 0, work = 0;
    if (dlt_net_param_count(net) > MAX_PARAMS)
        return 1;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        size_t params = 0;
        for (int p = 0; p < l->nparam; p++)
            params += l->param[p].count;
        for (int t = 0; t < l->ntop; t++) {
            const dlt_tensor *top = l->top[t];
            elements += top->count;
            work += top->count + params * ((size_t)top->h * top->w + 1);
            if (elements > MAX_ELEMENTS || work > MAX_WORK)
                return 1;
        }
    }
    return 0;
}

static void run(dlt_net *net, const uint8_t *data, size_t size)
{
    dlt_batch in;
    if (dlt_net_input(net, &in) == 0) {
        size_t n = (size_t)in.n * in.c * in.h * in.w;
        for (size_t i = 0; i < n; i++)
            in.data[i] = (float)data[i % size] / 64.0f - 2.0f;
        if (in.label)
            for (int i = 0; i < in.n; i++)
                in.label[i] = 0;
    }
    float loss = dlt_net_forward(net);
    dlt_net_zero_grads(net);
    dlt_net_backward(net);
    if (fuzz_verbose)
        fprintf(stderr, "# net of %d layers ran forward and backward, loss %g\n",
                dlt_net_num_layers(net), loss);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_TEXT)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    dlt_cfg *root = NULL;
    if (dlt_pt_parse_string(text, "fuzz.prototxt", &root) != 0 || !root) {
        free(text);
        return 0;
    }
    free(text);
    if (dlt_cfg_count(root, "layer") > MAX_LAYERS) {
        dlt_cfg_free(root);
        return 0;
    }
    force_batch_one(root);
    dlt_compute_ctx ctx;
    dlt_compute_ctx_init(&ctx);
    ctx.threads = 1;
    /* Both CPU convolution paths, chosen by the input's last byte. */
    ctx.conv_backend = data[size - 1] & 1 ? DLT_CONV_IM2COL : DLT_CONV_AUTO;
    dlt_net *volatile net = NULL;
    if (setjmp(fuzz_fatal_point) == 0) {
        fuzz_fatal_arm(1);
        dlt_net *made = NULL;
        if (dlt_net_create(root, DLT_PHASE_TRAIN, IN_C, IN_H, IN_W, 1, &ctx, &made) == 0)
            net = made;
    }
    fuzz_fatal_arm(0);
    if (net && !too_big(net))
        run(net, data, size);
    else if (net && fuzz_verbose)
        fprintf(stderr, "# net refused: beyond the harness's bounds\n");
    if (net)
        dlt_net_free(net);
    dlt_cfg_free(root);
    return 0;
}
