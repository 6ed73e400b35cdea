/* lstm_cell.h - internal: the LSTM step shared by LSTM and AttentionLSTM,
 * with Caffe's LSTMUnit conventions (lstm_unit_layer.cpp): the 4H gate
 * pre-activations of a sample are ordered i, f, o, g; cont = 0 zeroes the
 * previous cell (and the callers zero the previous hidden state fed to
 * W_hc), so a sequence starts there. The per-unit math is lstm_unit.h's,
 * shared with the GPU. Also their GEMM wrapper. */
#ifndef DLTRAIN_LAYERS_LSTM_CELL_H
#define DLTRAIN_LAYERS_LSTM_CELL_H

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/lstm_unit.h"

/* C (M x N) = op(A) op(B) + beta C (beta 0 or 1), row-major: one place for
 * the recurrent layers' products. Products whose rows are samples (A not
 * transposed: activations, input gradients) go through InnerProduct's
 * row-independent kernel, so P ranks of batch B compute what one rank of
 * P*B does, bit for bit; the weight gradients (A transposed: a sum over
 * samples) through cblas, as InnerProduct's. */
static inline void dlt__rgemm(int ta, int tb, int M, int N, int K, const float *A, const float *B,
                              float beta, float *C)
{
    if (ta) {
        cblas_sgemm(CblasRowMajor, CblasTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
                    M, B, tb ? K : N, beta, C, N);
        return;
    }
    if (beta == 0.0f) {
        dlt__gemm_rows(M, N, K, A, tb, B, tb ? K : N, NULL, C);
        return;
    }
    static _Thread_local float *tmp;
    static _Thread_local size_t cap;
    const size_t n = (size_t)M * N;
    if (n > cap) {
        free(tmp);
        tmp = dlt_malloc(n * sizeof(float));
        cap = n;
    }
    dlt__gemm_rows(M, N, K, A, tb, B, tb ? K : N, NULL, tmp);
    for (size_t i = 0; i < n; i++)
        C[i] += tmp[i];
}

/* One step for N samples of H units: G (N x 4H) holds the pre-activations
 * and is overwritten with the gate values; CPREV (N x H, or NULL = zeros)
 * the previous cell; CONT (N) the markers. Writes C and Hout (N x H). */
static inline void dlt__lstm_step_forward(int N, int H, float *G, const float *cprev,
                                          const float *cont, float *C, float *Hout)
{
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            const size_t k = (size_t)n * H + j;
            dlt__lstm_unit_forward(G + (size_t)n * 4 * H + j, H, cprev ? cprev[k] : 0.0f, cont[n],
                                   C + k, Hout + k);
        }
}

/* Its backward: from dH and dC (N x H, the gradients reaching this step's
 * hidden state and cell) and the gate values G, write the pre-activation
 * gradients DG (N x 4H) and the previous cell's gradient DCPREV (N x H;
 * may be NULL, or DC itself: each element is read before it is written). */
static inline void dlt__lstm_step_backward(int N, int H, const float *G, const float *C,
                                           const float *cprev, const float *cont, const float *dH,
                                           float *dC, float *DG, float *dCprev)
{
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            const size_t k = (size_t)n * H + j, g = (size_t)n * 4 * H + j;
            const float dcp = dlt__lstm_unit_backward(G + g, DG + g, H, C[k],
                                                      cprev ? cprev[k] : 0.0f, cont[n], dH[k], dC[k]);
            if (dCprev)
                dCprev[k] = dcp;
        }
}

#endif
