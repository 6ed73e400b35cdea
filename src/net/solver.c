/* solver.c - Caffe's SolverParameter, its learning-rate policies, and the
 * SGD-with-momentum update in Caffe's order (SGDSolver::ApplyUpdate). */
#include <math.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/solver.h"

int dlt_solver_config_parse(const dlt_pnode *root, dlt_solver_config *cfg)
{
    static const char *const policies[] = {"fixed", "step", "inv", NULL};
    static const char *const solver_types[] = {"SGD", NULL};
    char where[256];
    memset(cfg, 0, sizeof *cfg);
    DLT_TRY(dlt_pt_string(root, "net", NULL, &cfg->net));
    if (!cfg->net) {
        if (dlt_pt_get(root, "train_net") || dlt_pt_get(root, "net_param"))
            DLT_FAIL(DLT_ERR_PARSE, "%s: only `net:` (one train_val file) is supported, not "
                     "train_net/net_param", dlt_pt_where(root, where, sizeof where));
        DLT_FAIL(DLT_ERR_PARSE, "%s: the solver has no `net:` field", root->file);
    }
    DLT_TRY(dlt_pt_float(root, "base_lr", 0.01, &cfg->base_lr));
    DLT_TRY(dlt_pt_float(root, "momentum", 0.0, &cfg->momentum));
    DLT_TRY(dlt_pt_float(root, "weight_decay", 0.0, &cfg->weight_decay));
    DLT_TRY(dlt_pt_float(root, "gamma", 0.0, &cfg->gamma));
    DLT_TRY(dlt_pt_float(root, "power", 0.0, &cfg->power));
    DLT_TRY(dlt_pt_int(root, "stepsize", 0, &cfg->stepsize));
    DLT_TRY(dlt_pt_int(root, "max_iter", 0, &cfg->max_iter));
    DLT_TRY(dlt_pt_int(root, "display", 0, &cfg->display));
    DLT_TRY(dlt_pt_int(root, "snapshot", 0, &cfg->snapshot));
    DLT_TRY(dlt_pt_int(root, "test_interval", 0, &cfg->test_interval));
    DLT_TRY(dlt_pt_bool(root, "test_initialization", 1, &cfg->test_initialization));
    DLT_TRY(dlt_pt_int(root, "random_seed", -1, &cfg->random_seed));
    DLT_TRY(dlt_pt_string(root, "snapshot_prefix", "", &cfg->snapshot_prefix));
    int ntest = dlt_pt_count(root, "test_iter");
    if (ntest > 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: several test_iter values (several test nets) are not supported",
                 dlt_pt_where(dlt_pt_nth(root, "test_iter", 1), where, sizeof where));
    DLT_TRY(dlt_pt_int(root, "test_iter", 0, &cfg->test_iter));

    int policy = DLT_LR_FIXED;
    const dlt_pnode *pn = dlt_pt_get(root, "lr_policy");
    if (pn) {
        const char *name;
        DLT_TRY(dlt_pt_node_string(pn, &name));
        int found = -1;
        for (int i = 0; policies[i]; i++)
            if (strcmp(name, policies[i]) == 0)
                found = i;
        if (found < 0)
            DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"%s\" is not supported (supported: fixed, step, inv)",
                     dlt_pt_where(pn, where, sizeof where), name);
        policy = found;
    }
    cfg->lr_policy = (dlt_lr_policy)policy;
    if (cfg->lr_policy == DLT_LR_STEP && cfg->stepsize <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"step\" needs stepsize > 0",
                 dlt_pt_where(pn, where, sizeof where));

    const dlt_pnode *tn = dlt_pt_get(root, "type");
    if (tn) {
        const char *type;
        DLT_TRY(dlt_pt_node_string(tn, &type));
        if (strcmp(type, "SGD") != 0)
            DLT_FAIL(DLT_ERR_PARSE, "%s: solver type \"%s\" is not supported yet (supported: SGD)",
                     dlt_pt_where(tn, where, sizeof where), type);
    }
    int st;
    DLT_TRY(dlt_pt_enum(root, "solver_type", solver_types, 0, &st));
    const char *reg;
    DLT_TRY(dlt_pt_string(root, "regularization_type", "L2", &reg));
    if (strcmp(reg, "L2") != 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: regularization_type \"%s\" is not supported yet (supported: L2)",
                 dlt_pt_where(dlt_pt_get(root, "regularization_type"), where, sizeof where), reg);
    long iter_size;
    DLT_TRY(dlt_pt_int(root, "iter_size", 1, &iter_size));
    if (iter_size != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: iter_size other than 1 is not supported yet",
                 dlt_pt_where(dlt_pt_get(root, "iter_size"), where, sizeof where));
    double clip;
    DLT_TRY(dlt_pt_float(root, "clip_gradients", -1, &clip));
    if (clip >= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: clip_gradients is not supported yet",
                 dlt_pt_where(dlt_pt_get(root, "clip_gradients"), where, sizeof where));
    DLT_TRY(dlt_pt_int(root, "average_loss", 1, &cfg->average_loss));
    if (cfg->average_loss < 1)
        cfg->average_loss = 1;
    if (cfg->max_iter <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: max_iter must be > 0", root->file);
    if (cfg->test_interval > 0 && cfg->test_iter <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: test_interval is set but test_iter is not", root->file);
    return 0;
}

double dlt_solver_lr(const dlt_solver_config *cfg, long iter)
{
    switch (cfg->lr_policy) {
    case DLT_LR_STEP:
        return cfg->base_lr * pow(cfg->gamma, floor((double)iter / cfg->stepsize));
    case DLT_LR_INV:
        return cfg->base_lr * pow(1.0 + cfg->gamma * iter, -cfg->power);
    case DLT_LR_FIXED:
    default:
        return cfg->base_lr;
    }
}

void dlt_sgd_update(const dlt_solver_config *cfg, dlt_net *net, float *history, double lr)
{
    const float momentum = (float)cfg->momentum;
    float *base = dlt_net_params(net);
    for (int li = 0; li < dlt_net_num_layers(net); li++) {
        dlt_layer *l = dlt_net_layer(net, li);
        for (int p = 0; p < l->nparam; p++) {
            dlt_tensor *t = &l->param[p];
            float *w = t->data, *g = t->diff, *h = history + (t->data - base);
            const float rate = (float)(lr * l->lr_mult[p]);
            const float decay = (float)(cfg->weight_decay * l->decay_mult[p]);
            for (size_t i = 0; i < t->count; i++) {
                float gi = g[i] + decay * w[i];
                h[i] = momentum * h[i] + rate * gi;
                w[i] -= h[i];
            }
        }
    }
}
