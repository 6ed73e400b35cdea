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

/* Build the TEST net of NETPARAM for samples of C x H x W and load
 * WEIGHTS (weights.h: a dltrain checkpoint, a Caffe .caffemodel.h5 or a
 * binary .caffemodel; a layer with parameters the file lacks, or a blob of
 * another shape, is an error naming the layer). The scores are the first bottom of the
 * first Accuracy, SoftmaxWithLoss or Softmax layer. */
int dlt_evaluator_create(const dlt_cfg *netparam, int c, int h, int w, const char *weights,
                         dlt_evaluator **out);
void dlt_evaluator_free(dlt_evaluator *ev);
int dlt_evaluator_batch_size(const dlt_evaluator *ev);
int dlt_evaluator_num_classes(const dlt_evaluator *ev);
long dlt_evaluator_iter(const dlt_evaluator *ev);   /* the checkpoint's iteration; -1 for Caffe weights */

typedef struct dlt_eval_result {
    int nclasses;
    long count;          /* samples evaluated */
    long top1, top5;     /* correct, by Caffe's Accuracy rule (ties count against) */
    long *confusion;     /* (nclasses, nclasses): [true][argmax prediction] */
} dlt_eval_result;

/* Every sample of DS once, in order, in batches of the TEST data layer
 * (the loader's TEST transform). When PREDICTIONS is not NULL, one line
 * "index label predicted" per sample is written to it; when PROBABILITIES
 * is not NULL, one line "index p0 p1 ... p(K-1)" (softmax of the scores). */
int dlt_evaluate_dataset(dlt_evaluator *ev, const dlt_dataset *ds, FILE *predictions,
                         FILE *probabilities, dlt_eval_result *res);
void dlt_eval_result_free(dlt_eval_result *res);

/* Softmax probabilities (N x classes) of N transformed images
 * (N x C x H x W floats, the net's input shape), in batches of the TEST
 * data layer, given to the net through dlt_net_set_input. */
int dlt_evaluator_classify(dlt_evaluator *ev, const float *images, int n, float *probs);

/* The same for N image files (JPEG), through the one input pipeline
 * (data.h's dlt_transform): decoded and resized as the training set's
 * samples were made (SPEC: shape, channel order, resize mode), then the
 * TEST data layer's transform_param (centre crop, mean, scale). Errors
 * name the file. */
int dlt_evaluator_classify_files(dlt_evaluator *ev, const dlt_input_spec *spec,
                                 char *const *files, int n, float *probs);

/* RUN_DIR/config/net.prototxt and the newest checkpoint in RUN_DIR/checkpoints. */
int dlt_run_dir_latest(const char *run_dir, char *net, size_t net_size, char *ckpt,
                       size_t ckpt_size);
/* RUN from a checkpoint path RUN/checkpoints/NAME.h5 into OUT: 1 when
 * CKPT has that form, else 0. */
int dlt_run_dir_of(const char *ckpt, char *out, size_t size);
/* RUN_DIR/config/labels.txt (the training set's class names, one per
 * line), as the trainer writes it: the number read into *NAMES (malloc'ed
 * strings in a malloc'ed array), 0 with no such file, <0 error. */
int dlt_run_dir_labels(const char *run_dir, char ***names);
/* RUN_DIR/config/input.txt (how the training set's samples were made), as
 * the trainer writes it: 1 read into OUT, 0 no such file (runs of older
 * builds), <0 error. */
int dlt_run_dir_input_spec(const char *run_dir, dlt_input_spec *out);

#endif
