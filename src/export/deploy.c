/* deploy.c - the deployed subset of a TEST net (deploy.h): the output is
 * the last loss or Softmax layer, and only layers it depends on are kept,
 * found by walking the layers backwards with the set of blob names still
 * needed (in-place layers keep their name needed, as Caffe's in-place
 * chains read the same blob). */
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/layer.h"
#include "export/deploy.h"

const char *dlt__deploy_blob(const dlt_net *net, int index, const char *field, int i)
{
    const char *s = NULL;
    dlt_cfg_node_string(dlt_cfg_nth(dlt_net_layer_cfg(net, index), field, i), &s);
    return s ? s : "";
}

static int is_type(const dlt_layer *l, const char *type) { return strcmp(l->ops->type, type) == 0; }

typedef struct name_set {
    const char **v;
    int n;
} name_set;

static int set_has(const name_set *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

static void set_add(name_set *s, const char *x)
{
    if (set_has(s, x))
        return;
    s->v = dlt_realloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = x;
}

static void set_remove(name_set *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            s->v[i--] = s->v[--s->n];
}

int dlt__deploy_plan(dlt_net *net, const dlt_cfg *np, dlt__deploy *d)
{
    memset(d, 0, sizeof *d);
    const int L = dlt_net_num_layers(net);
    d->nlayers = L;
    d->prob_layer = -1;
    const dlt_layer *data = dlt_net_data_layer(net);
    for (int i = L - 1; i >= 0; i--) {
        const dlt_layer *l = dlt_net_layer(net, i);
        if (d->prob_layer < 0 && (is_type(l, "SoftmaxWithLoss") || is_type(l, "Softmax")))
            d->prob_layer = i;
        if (l == data)
            d->input = dlt__deploy_blob(net, i, "top", 0), d->input_t = l->top[0];
    }
    if (!data)
        DLT_FAIL(DLT_ERR_PARSE, "%s: the TEST phase has no Data layer: nothing says the model's "
                 "input shape", np->file ? np->file : "net");
    if (d->prob_layer < 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: the TEST phase has no SoftmaxWithLoss or Softmax layer: "
                 "nothing says which blob holds the class scores", np->file ? np->file : "net");
    const dlt_layer *pl = dlt_net_layer(net, d->prob_layer);
    d->scores = dlt__deploy_blob(net, d->prob_layer, "bottom", 0);
    d->scores_t = pl->bottom[0];
    dlt_layer_desc desc;
    dlt_layer_describe(pl, &desc);
    d->prob_axis = is_type(pl, "Softmax") ? desc.axis : 1;
    d->role = dlt_calloc((size_t)L + 1, sizeof *d->role);
    d->role[d->prob_layer] = DLT__DEPLOY_PROB;
    name_set need = {0};
    set_add(&need, d->scores);
    for (int i = d->prob_layer - 1; i >= 0; i--) {
        const dlt_layer *l = dlt_net_layer(net, i);
        int needed = 0;
        for (int t = 0; t < l->ntop; t++)
            needed |= set_has(&need, dlt__deploy_blob(net, i, "top", t));
        if (!needed || l == data || is_type(l, "Accuracy") || is_type(l, "SoftmaxWithLoss"))
            continue;
        d->role[i] = is_type(l, "Dropout") ? DLT__DEPLOY_IDENTITY : DLT__DEPLOY_KEEP;
        for (int t = 0; t < l->ntop; t++)
            set_remove(&need, dlt__deploy_blob(net, i, "top", t));
        for (int b = 0; b < l->nbottom; b++)
            set_add(&need, dlt__deploy_blob(net, i, "bottom", b));
    }
    free(need.v);
    return 0;
}

void dlt__deploy_free(dlt__deploy *d)
{
    free(d->role);
    d->role = NULL;
}

const char *dlt__deploy_input_name(const dlt_net *net)
{
    const dlt_layer *data = dlt_net_data_layer(net);
    for (int i = 0; data && i < dlt_net_num_layers(net); i++)
        if (dlt_net_layer(net, i) == data)
            return dlt__deploy_blob(net, i, "top", 0);
    return "data";
}
