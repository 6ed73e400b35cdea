/* recurrent.cuh - internal to src/cuda/: what LSTM and AttentionLSTM share
 * on the GPU: the row-major product of lstm_cell.h's dlt__rgemm through
 * cuBLAS, the LSTM step over N samples (lstm_unit.h's per-unit math, one
 * thread per unit), and the small kernels around them. Every kernel is a
 * grid-stride loop on the compute stream; sums that the CPU layer takes in
 * double are taken in double, in the CPU's order, one thread per sum. */
#ifndef DLTRAIN_CUDA_RECURRENT_CUH
#define DLTRAIN_CUDA_RECURRENT_CUH

#include "cuda/gpu.h"
extern "C" {
#include "layers/layers.h"
#include "layers/lstm_unit.h"
}

#define DLT_GRID_STRIDE(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)
#ifndef DLT_LAUNCH /* (tests/gpu_emulate/ has its own) */
#define DLT_LAUNCH(kernel, n, ...)                                                        \
    do {                                                                                  \
        kernel<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(__VA_ARGS__);      \
        CUDA_LAUNCH_CHECK();                                                              \
    } while (0)
#endif

/* C (M x N) = op(A) op(B) + beta C, all row-major (dlt__rgemm's contract):
 * a row-major matrix is the column-major transpose, so cuBLAS computes
 * C^T = op(B)^T op(A)^T. A is (M x K), or (K x M) when TA; B is (K x N),
 * or (N x K) when TB. */
static inline void dlt__gpu_rgemm(int ta, int tb, int M, int N, int K, const float *A, const float *B,
                                  float beta, float *C)
{
    const float one = 1.0f;
    CUBLAS_CHECK(cublasSgemm(dlt__gpu_get()->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                             ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &one, B, tb ? K : N, A,
                             ta ? M : K, &beta, C, N));
}

static __global__ void rec_fill_rows(float *y, const float *b, size_t rows, int width)
{
    DLT_GRID_STRIDE(i, rows * width)
        y[i] = b[i % width];
}

/* Every row of Y (ROWS x WIDTH) set to B (WIDTH): a bias before a product. */
static inline void dlt__gpu_fill_rows(float *y, const float *b, size_t rows, int width)
{
    DLT_LAUNCH(rec_fill_rows, rows * width, y, b, rows, width);
}

static __global__ void rec_col_sums_add(const float *x, size_t rows, int width, float *out)
{
    DLT_GRID_STRIDE(k, (size_t)width) {
        double acc = 0;
        for (size_t r = 0; r < rows; r++)
            acc += x[r * width + k];
        out[k] += (float)acc;
    }
}

/* OUT (WIDTH) += the column sums of X (ROWS x WIDTH), each in double over
 * the rows in order (a bias gradient, as the CPU layers take it). */
static inline void dlt__gpu_col_sums_add(const float *x, size_t rows, int width, float *out)
{
    DLT_LAUNCH(rec_col_sums_add, (size_t)width, x, rows, width, out);
}

static __global__ void rec_scale_rows(float *y, const float *x, const float *cont, int N, int H)
{
    DLT_GRID_STRIDE(k, (size_t)N * H)
        y[k] = cont[k / H] * x[k];
}

/* Y (N x H) = cont[n] * X row by row (Y may be X): h_{t-1} as W_hc sees it,
 * and the gradient flowing back through that product. */
static inline void dlt__gpu_scale_rows(float *y, const float *x, const float *cont, int N, int H)
{
    DLT_LAUNCH(rec_scale_rows, (size_t)N * H, y, x, cont, N, H);
}

/* The LSTM step, lstm_cell.h's dlt__lstm_step_forward/backward on the
 * device; CPREV NULL: zeros, CONT NULL: ones. */
static __global__ void rec_step_forward(int N, int H, float *G, const float *cprev, const float *cont,
                                        float *C, float *Hout)
{
    DLT_GRID_STRIDE(k, (size_t)N * H) {
        const size_t n = k / H, j = k % H;
        dlt__lstm_unit_forward(G + n * 4 * H + j, H, cprev ? cprev[k] : 0.0f, cont ? cont[n] : 1.0f, C + k,
                               Hout + k);
    }
}

static inline void dlt__gpu_lstm_step_forward(int N, int H, float *G, const float *cprev, const float *cont,
                                              float *C, float *Hout)
{
    DLT_LAUNCH(rec_step_forward, (size_t)N * H, N, H, G, cprev, cont, C, Hout);
}

static __global__ void rec_step_backward(int N, int H, const float *G, const float *C, const float *cprev,
                                         const float *cont, const float *dH, float *dC, float *DG,
                                         float *dCprev)
{
    DLT_GRID_STRIDE(k, (size_t)N * H) {
        const size_t n = k / H, g = n * 4 * H + k % H;
        const float dcp = dlt__lstm_unit_backward(G + g, DG + g, H, C[k], cprev ? cprev[k] : 0.0f,
                                                  cont ? cont[n] : 1.0f, dH[k], dC[k]);
        if (dCprev)
            dCprev[k] = dcp; /* may be dC: this thread read dC[k] above */
    }
}

static inline void dlt__gpu_lstm_step_backward(int N, int H, const float *G, const float *C, const float *cprev,
                                               const float *cont, const float *dH, float *dC, float *DG,
                                               float *dCprev)
{
    DLT_LAUNCH(rec_step_backward, (size_t)N * H, N, H, G, C, cprev, cont, dH, dC, DG, dCprev);
}

/* A device buffer of N floats (zeroed), or NULL for none. */
static inline float *dlt__gpu_floats(size_t n)
{
    return (float *)dlt__dev_alloc((n ? n : 1) * sizeof(float));
}

#endif
