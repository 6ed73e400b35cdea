/* test_data.c - the Data and HDF5Data layers: tops declared from their
 * parameters, the settings the loader reads. */
#include "fd_harness.h"

static void test_data(void)
{
    dlt_layer_context ctx = {DLT_PHASE_TRAIN, 3, 8, 9, 0};
    tcase t;
    memset(&t, 0, sizeof t);
    int st = make(&t, "Data", "data_param { source: \"x_lmdb\" backend: LMDB batch_size: 5 } "
                  "transform_param { scale: 0.00390625 }", 0, 2, 0, &ctx);
    const dlt_data_params *dp = st == 0 ? dlt_layer_data_params(&t.l) : NULL;
    TEST_OK(dp && dp->batch_size == 5 && fabsf(dp->scale - 0.00390625f) < 1e-9f &&
            t.top[0].n == 5 && t.top[0].c == 3 && t.top[0].h == 8 && t.top[0].w == 9 &&
            t.top[1].count == 5, "Data: batch 5, scale 1/256, tops 5x3x8x9 and 5 labels "
            "(status %d)", st);
    destroy(&t);

    memset(&t, 0, sizeof t);
    st = make(&t, "HDF5Data", "hdf5_data_param { source: \"list.txt\" batch_size: 2 "
              "shuffle: true }", 0, 2, 0, &ctx);
    dp = st == 0 ? dlt_layer_data_params(&t.l) : NULL;
    TEST_OK(dp && dp->batch_size == 2 && dp->scale == 1.0f && t.top[0].n == 2,
            "HDF5Data: batch 2, default scale 1 (status %d)", st);
    destroy(&t);

    memset(&t, 0, sizeof t);
    st = make(&t, "Data", "data_param { batch_size: 5 } transform_param { mirror: true "
              "crop_size: 2 mean_value: 1 mean_value: 2 }", 0, 2, 0, &ctx);
    dp = st == 0 ? dlt_layer_data_params(&t.l) : NULL;
    TEST_OK(dp && dp->mirror && dp->crop_size == 2 && dp->n_mean_value == 2 &&
            dp->mean_value[1] == 2.0f && t.top[0].h == 2 && t.top[0].w == 2,
            "Data: mirror, crop_size (top is cropped), mean_value read (status %d)", st);
    destroy(&t);

    memset(&t, 0, sizeof t);
    st = make(&t, "Data", "data_param { batch_size: 5 } transform_param { force_gray: true }",
              0, 2, 0, &ctx);
    ASSERT_EQ(st, DLT_ERR_PARSE, "Data: transform_param force_gray is rejected (fixed at prep)");
    destroy(&t);

    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 1, 1, 4, 4);
    st = make(&t, "ReLU", "", 1, 1, 0, NULL);
    TEST_OK(st == 0 && dlt_layer_data_params(&t.l) == NULL, "data params of a ReLU are NULL");
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_data();
    TEST_DONE();
}
