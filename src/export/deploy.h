/* deploy.h - internal: which layers of a TEST net a deployed model keeps
 * (export.h's rules), shared by the format writers. */
#ifndef DLTRAIN_EXPORT_DEPLOY_H
#define DLTRAIN_EXPORT_DEPLOY_H

#include "dltrain/cfg.h"
#include "dltrain/net.h"

typedef enum {
    DLT__DEPLOY_DROP,     /* data, Accuracy, other losses, layers nothing needed */
    DLT__DEPLOY_KEEP,     /* written as the format's own operation */
    DLT__DEPLOY_IDENTITY, /* Dropout: its top is its bottom */
    DLT__DEPLOY_PROB      /* the output loss (or Softmax): Softmax into "prob" */
} dlt__deploy_role;

typedef struct dlt__deploy {
    int nlayers;
    dlt__deploy_role *role;  /* (nlayers) */
    const char *input;       /* the data layer's first top */
    const dlt_tensor *input_t; /* (B, C, H, W) as the net feeds it */
    int prob_layer;          /* index of the DLT__DEPLOY_PROB layer */
    const char *scores;      /* the blob its Softmax reads */
    const dlt_tensor *scores_t;
    int prob_axis;           /* Softmax axis (1 for a loss layer) */
} dlt__deploy;

/* Plan NET (built from NP): errors name the net file when there is no data
 * layer or no loss/Softmax layer to take the output from. */
int dlt__deploy_plan(dlt_net *net, const dlt_cfg *np, dlt__deploy *out);
void dlt__deploy_free(dlt__deploy *d);
/* Bottom or top I of layer INDEX's message (FIELD "bottom" or "top"). */
const char *dlt__deploy_blob(const dlt_net *net, int index, const char *field, int i);

/* The data layer's first top (the model's input), or "data" without one. */
const char *dlt__deploy_input_name(const dlt_net *net);

#endif
