/* eval.h - evaluating a checkpoint: top-1/top-5, per-class accuracy and
 * the confusion matrix over a dataset, and classifying JPEG files. */
#ifndef DLTRAIN_EVAL_H
#define DLTRAIN_EVAL_H

#include <stddef.h>
#include <stdio.h>

#include "dltrain/data.h"
#include "dltrain/prototxt.h"

/* The TEST-phase net of a train_val prototxt with a checkpoint's weights. */
typedef struct dlt_evaluator dlt_evaluator;

/* Build the TEST net of NETPARAM for samples of C x H x W and load the
 * /data blobs of checkpoint WEIGHTS (a blob of another net is an error
 * naming the layer and blob). The scores are the first bottom of the
 * first Accuracy, SoftmaxWithLoss or Softmax layer. */
int dlt_evaluator_create(const dlt_cfg *netparam, int c, int h, int w, const char *weights,
                         dlt_evaluator **out);
void dlt_evaluator_free(dlt_evaluator *ev);
int dlt_evaluator_batch_size(const dlt_evaluator *ev);
int dlt_evaluator_num_classes(const dlt_evaluator *ev);
float dlt_evaluator_scale(const dlt_evaluator *ev); /* the data layer's transform scale */
long dlt_evaluator_iter(const dlt_evaluator *ev);   /* the checkpoint's iteration */

typedef struct dlt_eval_result {
    int nclasses;
    long count;          /* samples evaluated */
    long top1, top5;     /* correct, by Caffe's Accuracy rule (ties count against) */
    long *confusion;     /* (nclasses, nclasses): [true][argmax prediction] */
} dlt_eval_result;

/* Every sample of DS once, in order, in batches of the TEST data layer
 * (the loader's TEST transform). When PREDICTIONS is not NULL, one line
 * "index label predicted" per sample is written to it. */
int dlt_evaluate_dataset(dlt_evaluator *ev, const dlt_dataset *ds, FILE *predictions,
                         dlt_eval_result *res);
void dlt_eval_result_free(dlt_eval_result *res);

/* Softmax probabilities (N x classes) of N transformed images
 * (N x C x H x W floats), in batches of the TEST data layer. */
void dlt_evaluator_classify(dlt_evaluator *ev, const float *images, int n, float *probs);

/* Decode a JPEG (libjpeg-turbo), convert to gray (C 1) or BGR (C 3, Caffe's
 * order), resize bilinearly to H x W and multiply by SCALE into OUT. */
int dlt_image_load_jpeg(const char *path, int c, int h, int w, float scale, float *out);

/* RUN_DIR/config/net.prototxt and the newest checkpoint in RUN_DIR/checkpoints. */
int dlt_run_dir_latest(const char *run_dir, char *net, size_t net_size, char *ckpt,
                       size_t ckpt_size);

#endif
