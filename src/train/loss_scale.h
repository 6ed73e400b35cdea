/* loss_scale.h - dynamic loss scaling for FP16 mixed precision (Micikevicius
 * et al. 2018; PyTorch GradScaler's defaults): the loss is multiplied by
 * the scale before backward so small gradients survive FP16, and the
 * averaged gradients are divided by it before the update. */
#ifndef DLTRAIN_TRAIN_LOSS_SCALE_H
#define DLTRAIN_TRAIN_LOSS_SCALE_H

#define DLT_LOSS_SCALE_INIT 65536.0 /* 2^16 */
#define DLT_LOSS_SCALE_WINDOW 2000  /* clean steps before the scale doubles */
#define DLT_LOSS_SCALE_MIN 1.0      /* never below: a scale under 1 only loses bits */

/* Powers of two only, so that scaling and unscaling are exact. Saved in
 * checkpoints (scale, good_steps, skipped) so a resumed run continues
 * bit for bit. */
typedef struct dlt__loss_scale {
    int dynamic;      /* 0: scale stays 1 (FP32, TF32, BF16) */
    double scale;
    long window;      /* grow after this many clean steps in a row */
    long good_steps;  /* clean steps since the scale last changed */
    long skipped;     /* steps skipped on overflow in the whole run */
} dlt__loss_scale;

/* INIT and WINDOW <= 0: the defaults above. */
void dlt__loss_scale_init(dlt__loss_scale *s, int dynamic, double init, long window);
/* After a step's gradients were averaged: FINITE 0 means some were Inf or
 * NaN. Returns 1 when the step must be skipped (the scale was halved),
 * 0 to apply it (after WINDOW clean steps the scale doubles). */
int dlt__loss_scale_update(dlt__loss_scale *s, int finite);

#endif
