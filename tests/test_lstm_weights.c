/* test_lstm_weights.c - Caffe LSTM and Embed weights load into dltrain's
 * layers: a Caffe HDF5 weights file (/data/LAYER/I, written here with the
 * HDF5 library) holding Caffe's blob shapes - LSTM W_xc (4H,X), b_c (4H),
 * W_hc (4H,H) (RecurrentLayer's order), Embed (V,K) - is copied blob for
 * blob by dlt_weights_load; a W_hc of another shape is refused naming the
 * layer. (The LSTM forward from those blobs is checked against Caffe's
 * equations in tests/layers/test_lstm.c.) */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "dltrain/weights.h"
#include "test.h"

enum { T = 4, N = 2, X = 3, H = 5, V = 7, K = 3 };

static const char *net_text =
    "layer { name: 'in' type: 'Input' top: 'words' top: 'cont'\n"
    "  input_param { shape { dim: 4 dim: 2 } } }\n"
    "layer { name: 'embed' type: 'Embed' bottom: 'words' top: 'x'\n"
    "  embed_param { num_output: 3 input_dim: 7 bias_term: false } }\n"
    "layer { name: 'lstm' type: 'LSTM' bottom: 'x' bottom: 'cont' top: 'h'\n"
    "  recurrent_param { num_output: 5 } }\n";

/* /data/LAYER/I as a float dataset of RANK dims. */
static void put(hid_t file, const char *layer, int i, int rank, const hsize_t *dims, const float *v)
{
    char path[64];
    snprintf(path, sizeof path, "/data/%s", layer);
    if (H5Lexists(file, path, H5P_DEFAULT) <= 0) {
        hid_t g = H5Gcreate2(file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
    }
    snprintf(path, sizeof path, "/data/%s/%d", layer, i);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(file, path, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
}

static float val(int blob, size_t i) { return (float)(blob + 1) * 0.01f * (float)((i * 37) % 101); }

/* A Caffe weights file; whc_cols: W_hc's second axis (H: right). */
static int write_file(const char *path, int whc_cols)
{
    static float buf[4 * H * 16];
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hid_t g = H5Gcreate2(f, "/data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    const hsize_t e[2] = {V, K}, wx[2] = {4 * H, X}, b[1] = {4 * H}, wh[2] = {4 * H, (hsize_t)whc_cols};
    const hsize_t *shapes[4] = {e, wx, b, wh};
    const int ranks[4] = {2, 2, 1, 2};
    for (int s = 0; s < 4; s++) {
        size_t n = 1;
        for (int d = 0; d < ranks[s]; d++)
            n *= shapes[s][d];
        for (size_t i = 0; i < n; i++)
            buf[i] = val(s, i);
        put(f, s == 0 ? "embed" : "lstm", s == 0 ? 0 : s - 1, ranks[s], shapes[s], buf);
    }
    H5Fclose(f);
    return 0;
}

int main(void)
{
    char path[] = "/tmp/dltrain-lstm-weights-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        TEST_SKIP_ALL("no temporary file");
    close(fd);
    dlt_cfg *root = NULL;
    dlt_net *net = NULL;
    int st = dlt_pt_parse_string(net_text, "lstm_weights.prototxt", &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 1, 1, 1, 7, NULL, &net);
    ASSERT_EQ(st, 0, "an Input -> Embed -> LSTM net builds");
    if (st) {
        unlink(path);
        TEST_DONE();
    }
    ASSERT_EQ(write_file(path, H), 0, "a Caffe HDF5 weights file with LSTM and Embed blobs");
    st = dlt_weights_load(net, path, DLT_WEIGHTS_COMPLETE, NULL);
    int same = st == 0;
    const char *names[2] = {"embed", "lstm"};
    int blob = 0;
    for (int li = 0; li < dlt_net_num_layers(net); li++) {
        const dlt_layer *l = dlt_net_layer(net, li);
        for (int k = 0; k < 2; k++)
            if (!strcmp(l->name, names[k]))
                for (int p = 0; p < l->nparam; p++, blob++)
                    for (size_t i = 0; i < l->param[p].count; i++)
                        same &= l->param[p].data[i] == val(blob, i);
    }
    TEST_OK(same && blob == 4, "Caffe's blobs (embed (7,3); lstm W_xc (20,3), b_c (20), W_hc "
            "(20,5)) copied in order, value for value (status %d, %d blobs)", st, blob);
    ASSERT_EQ(write_file(path, H + 1), 0, "a weights file whose W_hc is (20,6)");
    st = dlt_weights_load(net, path, DLT_WEIGHTS_COMPLETE, NULL);
    TEST_OK(st < 0, "a W_hc of another shape is refused naming the layer and both shapes "
            "(status %d)", st);
    dlt_net_free(net);
    dlt_cfg_free(root);
    unlink(path);
    TEST_DONE();
}
