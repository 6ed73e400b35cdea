/* lstm_unit.h - internal: one unit of one sample of the LSTM step, with
 * Caffe's LSTMUnit conventions (gate order i, f, o, g; cont = 0 drops the
 * previous cell). Plain C that nvcc also compiles for the device, so the
 * CPU loops (lstm_cell.h) and the GPU kernels (src/cuda/recurrent.cuh)
 * evaluate the one formula. */
#ifndef DLTRAIN_LAYERS_LSTM_UNIT_H
#define DLTRAIN_LAYERS_LSTM_UNIT_H

#include <math.h>

#ifdef __CUDACC__
#define DLT_HOST_DEVICE __host__ __device__
#else
#define DLT_HOST_DEVICE
#endif

DLT_HOST_DEVICE static inline float dlt__sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* G points at the unit's i gate pre-activation; f, o and g are H, 2H and
 * 3H further. They are replaced by the gate values; the cell is returned
 * in *C and the hidden state in *H_OUT. */
DLT_HOST_DEVICE static inline void dlt__lstm_unit_forward(float *g, int H, float cprev, float keep,
                                                          float *c, float *h_out)
{
    const float i = dlt__sigmoidf(g[0]), f = dlt__sigmoidf(g[H]);
    const float o = dlt__sigmoidf(g[2 * H]), gg = tanhf(g[3 * H]);
    g[0] = i, g[H] = f, g[2 * H] = o, g[3 * H] = gg;
    const float cv = keep * f * cprev + i * gg;
    *c = cv;
    *h_out = o * tanhf(cv);
}

/* Its backward: from the gate values G (laid out as above), the cell C,
 * the previous cell, and the gradients DH and DC reaching this step's
 * hidden state and cell, write the four pre-activation gradients at DG
 * (same layout) and return the previous cell's gradient. */
DLT_HOST_DEVICE static inline float dlt__lstm_unit_backward(const float *g, float *dg, int H, float c,
                                                            float cprev, float keep, float dh, float dc_in)
{
    const float i = g[0], f = g[H], o = g[2 * H], gg = g[3 * H];
    const float tc = tanhf(c);
    const float dc = dc_in + dh * o * (1.0f - tc * tc);
    dg[0] = dc * gg * i * (1.0f - i);
    dg[H] = dc * keep * cprev * f * (1.0f - f);
    dg[2 * H] = dh * tc * o * (1.0f - o);
    dg[3 * H] = dc * i * (1.0f - gg * gg);
    return dc * keep * f;
}

#endif
