/* test_gpu_nets.c - every network in nets/ on the GPU against the CPU at
 * a small batch, one forward and backward on the same random batch:
 * every layer's output and every gradient (gpu_compare.h). Skips without
 * a usable GPU.
 * Tolerances (max |gpu - cpu| / max |cpu| per blob): the error of each
 * cuDNN/cuBLAS sum (another order, other algorithms such as Winograd)
 * compounds with depth, so forward 1e-3 and gradients 5e-3 here, against
 * 1e-4 / 1e-3 for single layers in test_gpu_layers. cuDNN runs with
 * deterministic algorithms and FP32 math (no TF32). */
#include "gpu_compare.h"
#include "net_files.h"

typedef struct net_case {
    const char *file;
    int c, h, w, batch, classes;
} net_case;

int main(void)
{
    gc_require_gpu(1);
    static const net_case nets[] = {
        {"lenet_train_val.prototxt", 1, 28, 28, 16, 10},
        {"lenet_fashion_train_val.prototxt", 1, 28, 28, 16, 10},
        {"cifar10_quick_train_val.prototxt", 3, 32, 32, 8, 10},
        {"cifar10_full_train_val.prototxt", 3, 32, 32, 8, 10},
        {"fashion_bn_train_val.prototxt", 1, 28, 28, 8, 10},
        {"alexnet_train_val.prototxt", 3, 227, 227, 2, 1000},
        {"googlenet_train_val.prototxt", 3, 224, 224, 2, 1000},
        {"resnet18_train_val.prototxt", 3, 224, 224, 2, 1000},
        {"resnet50_train_val.prototxt", 3, 224, 224, 2, 1000},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        const net_case *nc = &nets[i];
        dlt_pnode *root = NULL;
        int st = tn_load(nc->file, nc->batch, &root);
        TEST_OK(st == 0, "%s parses", nc->file);
        if (st == 0)
            gc_compare_net(nc->file, root, nc->c, nc->h, nc->w, nc->classes, NULL, 1e-3, 5e-3, 0);
        dlt_pt_free(root);
    }
    TEST_DONE();
}
