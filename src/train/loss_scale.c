/* loss_scale.c - the dynamic loss scale's state machine: halve and skip on
 * overflow, double after a window of clean steps. */
#include "train/loss_scale.h"

void dlt__loss_scale_init(dlt__loss_scale *s, int dynamic, double init, long window)
{
    s->dynamic = dynamic;
    s->scale = dynamic ? (init > 0 ? init : DLT_LOSS_SCALE_INIT) : 1.0;
    s->window = window > 0 ? window : DLT_LOSS_SCALE_WINDOW;
    s->good_steps = 0;
    s->skipped = 0;
}

int dlt__loss_scale_update(dlt__loss_scale *s, int finite)
{
    if (!s->dynamic)
        return !finite;
    if (!finite) {
        s->skipped++;
        s->good_steps = 0;
        if (s->scale / 2 >= DLT_LOSS_SCALE_MIN)
            s->scale /= 2;
        return 1;
    }
    if (++s->good_steps >= s->window) {
        s->good_steps = 0;
        if (s->scale * 2 <= 1e30) /* FP32's range: 2^99 is far beyond any useful scale */
            s->scale *= 2;
    }
    return 0;
}
