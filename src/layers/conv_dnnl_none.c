/* conv_dnnl_none.c - a build without oneDNN: no layer gets primitives
 * (dlt_compute_conv_backend never answers dnnl), so conv.c keeps im2col. */
#include "layers/conv_dnnl.h"

dlt__conv_dnnl *dlt__conv_dnnl_create(const conv_config *c, int n, int wchunk) { return NULL; }
void dlt__conv_dnnl_destroy(dlt__conv_dnnl *d) {}
int dlt__conv_dnnl_is_plain(const dlt__conv_dnnl *d) { return 0; }
void dlt__conv_dnnl_fuse_relu(dlt__conv_dnnl *d) {}
int dlt__conv_dnnl_backward(dlt__conv_dnnl *d, const float *x, const float *dy, const float *w,
                            float *dw, float *dx)
{
    return -1;
}
int dlt__conv_dnnl_forward(dlt__conv_dnnl *d, const float *x, const float *w, const float *b,
                           float *y) { return -1; }
int dlt__conv_dnnl_backward_data(dlt__conv_dnnl *d, const float *dy, const float *w, float *dx)
{
    return -1;
}
int dlt__conv_dnnl_backward_weights(dlt__conv_dnnl *d, const float *x, const float *dy,
                                    float *dw)
{
    return -1;
}
