/* solver.c - Caffe's SolverParameter and its learning-rate policies, the
 * warmup / linear-scaling multiplier (Goyal et al. 2017), and the solver
 * step in Caffe's order (Solver::ApplyUpdate) around the table of solvers
 * (DLT_SOLVER_MAP; the update rules are in solver_rules.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/solver.h"
#include "net/solver_rules.h"

static const char *const policy_names[] = {"fixed", "step", "exp", "inv", "multistep", "poly",
                                           "sigmoid", NULL};

const char *dlt_lr_policy_name(dlt_lr_policy p) { return policy_names[p]; }

static int find_name(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* ---- the table of solvers (DLT_SOLVER_MAP) ----
 * A row's step updates COUNT values of one blob: W and G its parameters
 * and gradients, H0 and H1 its history slots (H1 NULL for one-slot
 * solvers), host buffers for the host step, device buffers for the device
 * step (cuda/solver.cu, the same rule). */
typedef void solver_step_fn(const dlt__update_args *a, float *w, float *g, float *h0, float *h1,
                            size_t count);
typedef struct solver_kind {
    const char *name;
    int nhistory;
    int (*check)(const dlt_solver_config *c, char *why, size_t n); /* at parse time */
    void (*prepare)(dlt__update_args *a, const dlt_solver_config *c, long iter);
    solver_step_fn *host, *device;
} solver_kind;

/* The host step on OpenMP threads for blobs this large (each value's
 * update is its own, so the split changes nothing): single-threaded it was
 * 7% of LeNet's step at 2 threads (ip1's 400k weights). */
#define HOST_STEP_PARALLEL_MIN 32768

/* The host step's loop, vectorized (omp simd: the blobs never overlap) and
 * compiled once per vector width, chosen at run time as the kernels choose
 * theirs (dlt_cpu_avx512, dlt_cpu_avx2_fma: ONEDNN_MAX_CPU_ISA caps it).
 * The same operations in every form and no contraction into FMAs (ISO C:
 * -ffp-contract=off), so every form gives the scalar loop's bits. The
 * scalar loop, with its per-value branches, took 0.65 ms of LeNet's 7.7 ms
 * AVX2 step at batch 32. One loop per regularization mode (a branch in the
 * loop stopped the vectorizer), the arguments in a private copy (a float
 * store to W could otherwise alias them). SGD and Nesterov vectorize; the
 * solvers that take a square root stay scalar (sqrtf may set errno). */
#define HOST_STEP_MODE_LOOP(ID, nhistory, mode)                                                   \
    {                                                                                              \
        _Pragma("omp parallel for simd schedule(static) firstprivate(al) if (count >= HOST_STEP_PARALLEL_MIN)") \
        for (size_t i = 0; i < count; i++)                                                         \
            DLT__UPDATE_VALUE_REG(ID, nhistory, mode, &al, w, g, h0, h1, i);                       \
    }
#define HOST_STEP_LOOP(ID, nhistory)                                                               \
    {                                                                                              \
        const dlt__update_args al = *a;                                                            \
        switch (dlt__reg_mode(&al)) { /* one loop per regularization: no branch inside */         \
        case 0: HOST_STEP_MODE_LOOP(ID, nhistory, 0) break;                                        \
        case 1: HOST_STEP_MODE_LOOP(ID, nhistory, 1) break;                                        \
        default: HOST_STEP_MODE_LOOP(ID, nhistory, 2) break;                                       \
        }                                                                                          \
    }

#define XX(ID, name, nhistory)                                                                    \
    __attribute__((target("avx512f"))) static void host_step512_##ID(                             \
        const dlt__update_args *a, float *w, float *g, float *h0, float *h1, size_t count)         \
        HOST_STEP_LOOP(ID, nhistory)                                                               \
    __attribute__((target("avx2"))) static void host_step256_##ID(                                \
        const dlt__update_args *a, float *w, float *g, float *h0, float *h1, size_t count)         \
        HOST_STEP_LOOP(ID, nhistory)                                                               \
    static void host_step128_##ID(const dlt__update_args *a, float *w, float *g, float *h0,        \
                                  float *h1, size_t count) HOST_STEP_LOOP(ID, nhistory)            \
    static void host_step_##ID(const dlt__update_args *a, float *w, float *g, float *h0, float *h1, \
                               size_t count)                                                      \
    {                                                                                             \
        static int isa = -1;                                                                      \
        if (isa < 0)                                                                              \
            isa = dlt_cpu_avx512() ? 2 : dlt_cpu_avx2_fma();                                      \
        (isa == 2 ? host_step512_##ID : isa ? host_step256_##ID : host_step128_##ID)(a, w, g, h0, \
                                                                                    h1, count);   \
    }                                                                                             \
    static void device_step_##ID(const dlt__update_args *a, float *w, float *g, float *h0,        \
                                 float *h1, size_t count)                                         \
    {                                                                                             \
        dlt__dev_solver_update(DLT_SOLVER_##ID, a, w, g, h0, h1, count);                          \
    }
DLT_SOLVER_MAP(XX)
#undef XX
#define XX(ID, name, nhistory) \
    _Static_assert(nhistory >= 1 && nhistory <= 2, name ": 1 or 2 history slots (DLT_CKPT_MAX_HISTORY)");
DLT_SOLVER_MAP(XX)
#undef XX

static const solver_kind solver_kinds[DLT_SOLVER_NTYPES] = {
#define XX(ID, name, nhistory)                                                                   \
    [DLT_SOLVER_##ID] = {name, nhistory, dlt__check_##ID, dlt__prepare_##ID, host_step_##ID,     \
                         device_step_##ID},
    DLT_SOLVER_MAP(XX)
#undef XX
};

const char *dlt_solver_type_name(dlt_solver_type t) { return solver_kinds[t].name; }

void dlt__solver_host_step(dlt_solver_type t, const dlt__update_args *a, float *w, float *g, float *h0,
                           float *h1, size_t count)
{
    solver_kinds[t].host(a, w, g, h0, h1, count);
}

/* `type: "Adam"` or the deprecated `solver_type: ADAM`, not both (as Caffe's
 * UpgradeSolverType). A name not in DLT_SOLVER_MAP is an error listing them. */
static int parse_type(const dlt_cfg *root, dlt_solver_config *cfg)
{
    static const char *const old_names[] = {"SGD", "NESTEROV", "ADAGRAD", "RMSPROP", "ADADELTA",
                                            "ADAM", NULL};
    char where[256];
    const dlt_cfg *tn = dlt_cfg_get(root, "type"), *on = dlt_cfg_get(root, "solver_type");
    if (tn && on)
        DLT_FAIL(DLT_ERR_PARSE, "%s: solver_type (deprecated enum) and type (string) cannot both "
                 "be given; keep `type`", dlt_cfg_where(on, where, sizeof where));
    cfg->type = DLT_SOLVER_SGD;
    const char *name = NULL;
    if (tn) {
        DLT_TRY(dlt_cfg_node_string(tn, &name));
    } else if (on) {
        int st;
        DLT_TRY(dlt_cfg_enum(root, "solver_type", old_names, 0, &st));
        static const char *const as_type[] = {"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta",
                                              "Adam"};
        name = as_type[st];
    }
    if (name) {
        int t = 0;
        while (t < DLT_SOLVER_NTYPES && strcmp(solver_kinds[t].name, name) != 0)
            t++;
        if (t == DLT_SOLVER_NTYPES) {
            char list[256] = "";
            for (int i = 0; i < DLT_SOLVER_NTYPES; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         solver_kinds[i].name);
            DLT_FAIL(DLT_ERR_PARSE, "%s: solver type \"%s\" is not supported (supported: %s)",
                     dlt_cfg_where(tn ? tn : on, where, sizeof where), name, list);
        }
        cfg->type = (dlt_solver_type)t;
    }
    return 0;
}

/* lr_policy and the fields each policy needs (Caffe's GetLearningRate). */
static int parse_policy(const dlt_cfg *root, dlt_solver_config *cfg)
{
    char where[256];
    const dlt_cfg *pn = dlt_cfg_get(root, "lr_policy");
    cfg->lr_policy = DLT_LR_FIXED;
    if (pn) {
        const char *name;
        DLT_TRY(dlt_cfg_node_string(pn, &name));
        int found = find_name(policy_names, name);
        if (found < 0)
            DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"%s\" is not supported (supported: fixed, step, "
                     "exp, inv, multistep, poly, sigmoid)", dlt_cfg_where(pn, where, sizeof where),
                     name);
        cfg->lr_policy = (dlt_lr_policy)found;
    }
    const char *pname = policy_names[cfg->lr_policy];
    dlt_lr_policy p = cfg->lr_policy;
    int needs_gamma = p == DLT_LR_STEP || p == DLT_LR_EXP || p == DLT_LR_INV ||
                      p == DLT_LR_MULTISTEP || p == DLT_LR_SIGMOID;
    int needs_power = p == DLT_LR_INV || p == DLT_LR_POLY;
    if (needs_gamma && !dlt_cfg_get(root, "gamma"))
        DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"%s\" needs gamma", dlt_cfg_where(pn, where, sizeof where),
                 pname);
    if (needs_power && !dlt_cfg_get(root, "power"))
        DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"%s\" needs power", dlt_cfg_where(pn, where, sizeof where),
                 pname);
    if (p == DLT_LR_STEP && cfg->stepsize <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"step\" needs stepsize > 0",
                 dlt_cfg_where(pn, where, sizeof where));
    if (p == DLT_LR_SIGMOID && !dlt_cfg_get(root, "stepsize"))
        DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"sigmoid\" needs stepsize (the midpoint iteration)",
                 dlt_cfg_where(pn, where, sizeof where));
    int nsv = dlt_cfg_count(root, "stepvalue");
    if (nsv > DLT_MAX_STEPVALUES)
        DLT_FAIL(DLT_ERR_PARSE, "%s: more than %d stepvalue entries",
                 dlt_cfg_where(dlt_cfg_nth(root, "stepvalue", DLT_MAX_STEPVALUES), where, sizeof where),
                 DLT_MAX_STEPVALUES);
    for (int i = 0; i < nsv; i++) {
        const dlt_cfg *sv = dlt_cfg_nth(root, "stepvalue", i);
        DLT_TRY(dlt_cfg_node_int(sv, &cfg->stepvalue[i]));
        /* Caffe walks the list in order and stops at the first value not
         * reached, so a decreasing list would silently skip steps. */
        if (i > 0 && cfg->stepvalue[i] <= cfg->stepvalue[i - 1])
            DLT_FAIL(DLT_ERR_PARSE, "%s: stepvalue %ld is not greater than the previous one (%ld)",
                     dlt_cfg_where(sv, where, sizeof where), cfg->stepvalue[i], cfg->stepvalue[i - 1]);
    }
    cfg->nstepvalue = nsv;
    if (p == DLT_LR_MULTISTEP && nsv == 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: lr_policy \"multistep\" needs one or more stepvalue fields",
                 dlt_cfg_where(pn, where, sizeof where));
    return 0;
}

int dlt_solver_config_parse(const dlt_cfg *root, dlt_solver_config *cfg)
{
    char where[256];
    memset(cfg, 0, sizeof *cfg);
    cfg->lr_scale = 1;
    DLT_TRY(dlt_cfg_string(root, "net", NULL, &cfg->net));
    if (!cfg->net) {
        if (dlt_cfg_get(root, "train_net") || dlt_cfg_get(root, "net_param"))
            DLT_FAIL(DLT_ERR_PARSE, "%s: only `net:` (one train_val file) is supported, not "
                     "train_net/net_param", dlt_cfg_where(root, where, sizeof where));
        DLT_FAIL(DLT_ERR_PARSE, "%s: the solver has no `net:` field", root->file);
    }
    DLT_TRY(dlt_cfg_float(root, "base_lr", 0.01, &cfg->base_lr));
    DLT_TRY(dlt_cfg_float(root, "momentum", 0.0, &cfg->momentum));
    DLT_TRY(dlt_cfg_float(root, "momentum2", 0.999, &cfg->momentum2));
    DLT_TRY(dlt_cfg_float(root, "rms_decay", 0.99, &cfg->rms_decay));
    DLT_TRY(dlt_cfg_float(root, "delta", 1e-8, &cfg->delta));
    DLT_TRY(dlt_cfg_float(root, "weight_decay", 0.0, &cfg->weight_decay));
    DLT_TRY(dlt_cfg_float(root, "gamma", 0.0, &cfg->gamma));
    DLT_TRY(dlt_cfg_float(root, "power", 0.0, &cfg->power));
    DLT_TRY(dlt_cfg_int(root, "stepsize", 0, &cfg->stepsize));
    DLT_TRY(dlt_cfg_int(root, "max_iter", 0, &cfg->max_iter));
    DLT_TRY(dlt_cfg_int(root, "display", 0, &cfg->display));
    DLT_TRY(dlt_cfg_int(root, "snapshot", 0, &cfg->snapshot));
    DLT_TRY(dlt_cfg_int(root, "test_interval", 0, &cfg->test_interval));
    DLT_TRY(dlt_cfg_bool(root, "test_initialization", 1, &cfg->test_initialization));
    DLT_TRY(dlt_cfg_int64(root, "random_seed", -1, &cfg->random_seed));
    DLT_TRY(dlt_cfg_string(root, "snapshot_prefix", "", &cfg->snapshot_prefix));
    int ntest = dlt_cfg_count(root, "test_iter");
    if (ntest > 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: several test_iter values (several test nets) are not supported",
                 dlt_cfg_where(dlt_cfg_nth(root, "test_iter", 1), where, sizeof where));
    DLT_TRY(dlt_cfg_int(root, "test_iter", 0, &cfg->test_iter));
    DLT_TRY(parse_type(root, cfg));
    DLT_TRY(parse_policy(root, cfg));

    const char *reg;
    DLT_TRY(dlt_cfg_string(root, "regularization_type", "L2", &reg));
    if (strcmp(reg, "L2") == 0)
        cfg->regularization = DLT_REG_L2;
    else if (strcmp(reg, "L1") == 0)
        cfg->regularization = DLT_REG_L1;
    else
        DLT_FAIL(DLT_ERR_PARSE, "%s: regularization_type \"%s\" is not supported (supported: L1, L2)",
                 dlt_cfg_where(dlt_cfg_get(root, "regularization_type"), where, sizeof where), reg);
    DLT_TRY(dlt_cfg_int(root, "iter_size", 1, &cfg->iter_size));
    if (cfg->iter_size < 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: iter_size must be >= 1 (got %ld)",
                 dlt_cfg_where(dlt_cfg_get(root, "iter_size"), where, sizeof where), cfg->iter_size);
    DLT_TRY(dlt_cfg_float(root, "clip_gradients", -1, &cfg->clip_gradients));
    char why[256]; /* the solver's own requirements, named at its type line */
    if (solver_kinds[cfg->type].check(cfg, why, sizeof why) < 0) {
        const dlt_cfg *tn = dlt_cfg_get(root, "type");
        DLT_FAIL(DLT_ERR_PARSE, "%s: %s", dlt_cfg_where(tn ? tn : dlt_cfg_get(root, "solver_type"),
                                                       where, sizeof where), why);
    }
    DLT_TRY(dlt_cfg_int(root, "average_loss", 1, &cfg->average_loss));
    if (cfg->average_loss < 1)
        cfg->average_loss = 1;
    if (cfg->max_iter <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: max_iter must be > 0", root->file);
    if (cfg->test_interval > 0 && cfg->test_iter <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: test_interval is set but test_iter is not", root->file);
    return 0;
}

void dlt_solver_set_scaling(dlt_solver_config *cfg, double lr_scale, long warmup_iter)
{
    cfg->lr_scale = lr_scale > 0 ? lr_scale : 1;
    cfg->warmup_iter = warmup_iter > 0 ? warmup_iter : 0;
}

double dlt_solver_policy_lr(const dlt_solver_config *cfg, long iter)
{
    const double it = (double)iter;
    switch (cfg->lr_policy) {
    case DLT_LR_STEP:
        return cfg->base_lr * pow(cfg->gamma, floor(it / cfg->stepsize));
    case DLT_LR_EXP:
        return cfg->base_lr * pow(cfg->gamma, it);
    case DLT_LR_INV:
        return cfg->base_lr * pow(1.0 + cfg->gamma * it, -cfg->power);
    case DLT_LR_MULTISTEP: {
        int step = 0;
        while (step < cfg->nstepvalue && iter >= cfg->stepvalue[step])
            step++;
        return cfg->base_lr * pow(cfg->gamma, step);
    }
    case DLT_LR_POLY:
        return cfg->base_lr * pow(1.0 - it / (double)cfg->max_iter, cfg->power);
    case DLT_LR_SIGMOID:
        return cfg->base_lr * (1.0 / (1.0 + exp(-cfg->gamma * (it - (double)cfg->stepsize))));
    case DLT_LR_FIXED:
    default:
        return cfg->base_lr;
    }
}

double dlt_solver_lr(const dlt_solver_config *cfg, long iter)
{
    double k = cfg->lr_scale > 0 ? cfg->lr_scale : 1, mult = k;
    if (cfg->warmup_iter > 0 && iter < cfg->warmup_iter) {
        double start = k > 1 ? 1.0 : 1.0 / (double)cfg->warmup_iter;
        mult = start + (k - start) * (double)iter / (double)cfg->warmup_iter;
    }
    return mult * dlt_solver_policy_lr(cfg, iter);
}

void dlt_solver_describe(const dlt_solver_config *cfg, char *buf, size_t size)
{
    int n = 0;
#define ADD(...) (n += snprintf(buf + n, size > (size_t)n ? size - n : 0, __VA_ARGS__))
    ADD("%s, lr_policy %s: ", solver_kinds[cfg->type].name, policy_names[cfg->lr_policy]);
    switch (cfg->lr_policy) {
    case DLT_LR_FIXED: ADD("base_lr %g", cfg->base_lr); break;
    case DLT_LR_STEP:
        ADD("%g x %g^floor(iter/%ld)", cfg->base_lr, cfg->gamma, cfg->stepsize);
        break;
    case DLT_LR_EXP: ADD("%g x %g^iter", cfg->base_lr, cfg->gamma); break;
    case DLT_LR_INV: ADD("%g x (1 + %g iter)^-%g", cfg->base_lr, cfg->gamma, cfg->power); break;
    case DLT_LR_MULTISTEP:
        ADD("%g x %g^(steps passed of", cfg->base_lr, cfg->gamma);
        for (int i = 0; i < cfg->nstepvalue; i++)
            ADD(" %ld", cfg->stepvalue[i]);
        ADD(")");
        break;
    case DLT_LR_POLY:
        ADD("%g x (1 - iter/%ld)^%g", cfg->base_lr, cfg->max_iter, cfg->power);
        break;
    case DLT_LR_SIGMOID:
        ADD("%g / (1 + exp(-%g (iter - %ld)))", cfg->base_lr, cfg->gamma, cfg->stepsize);
        break;
    }
    if (cfg->lr_scale != 1)
        ADD("; linear scaling x%g", cfg->lr_scale);
    if (cfg->warmup_iter > 0)
        ADD("; linear warmup over %ld iterations from lr %g", cfg->warmup_iter, dlt_solver_lr(cfg, 0));
    ADD("; momentum %g", cfg->momentum);
    if (cfg->type == DLT_SOLVER_ADAM)
        ADD(", momentum2 %g, delta %g", cfg->momentum2, cfg->delta);
    else if (cfg->type == DLT_SOLVER_RMSPROP)
        ADD(", rms_decay %g, delta %g", cfg->rms_decay, cfg->delta);
    else if (cfg->type != DLT_SOLVER_SGD && cfg->type != DLT_SOLVER_NESTEROV)
        ADD(", delta %g", cfg->delta);
    ADD("; weight_decay %g (%s)", cfg->weight_decay, cfg->regularization == DLT_REG_L1 ? "L1" : "L2");
    if (cfg->clip_gradients >= 0)
        ADD("; clip_gradients %g", cfg->clip_gradients);
    if (cfg->iter_size > 1)
        ADD("; iter_size %ld", cfg->iter_size);
#undef ADD
}

/* ---- the solver object ---- */

struct dlt_solver {
    dlt_solver_config cfg;
    const struct solver_kind *kind; /* its row of solver_kinds */
    size_t n;
    int nhistory;
    float *history[2]; /* (nparams) each: the row's history slots, e.g. Adam's m and v */
    float *ghistory[2]; /* their device copies in GPU runs, else NULL */
    double grad_scale;  /* dlt_solver_set_grad_scale: 1/loss scale; 1: none */
};

void dlt_solver_set_grad_scale(dlt_solver *s, double f) { s->grad_scale = f; }

dlt_solver *dlt_solver_create(const dlt_solver_config *cfg, size_t nparams)
{
    dlt_solver *s = dlt_calloc(1, sizeof *s);
    s->cfg = *cfg;
    s->kind = &solver_kinds[cfg->type];
    s->n = nparams;
    s->nhistory = s->kind->nhistory;
    s->grad_scale = 1;
    for (int i = 0; i < s->nhistory; i++)
        s->history[i] = dlt_calloc(nparams ? nparams : 1, sizeof(float));
    return s;
}

void dlt_solver_free(dlt_solver *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nhistory; i++) {
        free(s->history[i]);
        dlt_device_free(s->ghistory[i]);
    }
    free(s);
}

const dlt_solver_config *dlt_solver_get_config(const dlt_solver *s) { return &s->cfg; }
int dlt_solver_num_history(const dlt_solver *s) { return s->nhistory; }
float *dlt_solver_history(dlt_solver *s, int index)
{
    return index >= 0 && index < s->nhistory ? s->history[index] : NULL;
}

/* The history follows the parameters it updates: uploaded the first time
 * the solver steps a net that keeps them on its device (after a resume has
 * filled the host history), brought back if the net is on the host again. */
static void follow(dlt_solver *s, const dlt_net *net)
{
    size_t bytes = (s->n ? s->n : 1) * sizeof(float);
    int on_device = dlt_net_memory(net) == DLT_DEVICE;
    for (int i = 0; i < s->nhistory; i++) {
        if (on_device && !s->ghistory[i]) {
            s->ghistory[i] = dlt_device_alloc(bytes);
            dlt_device_upload(s->ghistory[i], s->history[i], bytes);
        } else if (!on_device && s->ghistory[i]) {
            dlt_device_download(s->history[i], s->ghistory[i], bytes);
            dlt_device_free(s->ghistory[i]);
            s->ghistory[i] = NULL;
        }
    }
}

void dlt_solver_history_to_host(dlt_solver *s)
{
    for (int i = 0; i < s->nhistory && s->ghistory[i]; i++)
        dlt_device_download(s->history[i], s->ghistory[i], (s->n ? s->n : 1) * sizeof(float));
}

dlt_memory dlt_solver_memory(const dlt_solver *s) { return s->ghistory[0] ? DLT_DEVICE : DLT_HOST; }

/* Where the step's vectors live: the net's and the solver's host buffers,
 * or their device copies, with the operations on them. */
typedef struct place {
    float *w, *g, *h[2]; /* parameters, gradients, history: (nparams) each */
    const float *base;   /* the net's host parameters: blob offsets are taken from it */
    double (*sumsq)(const float *x, size_t n);
    void (*scale)(float *x, size_t n, float f);
    int device;          /* selects the row's device step */
} place;

static double host_sumsq(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s;
}

static void host_scale(float *x, size_t n, float f)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= f;
}

static place where(dlt_solver *s, dlt_net *net)
{
    place p = {dlt_net_params(net), dlt_net_grads(net), {s->history[0], s->history[1]},
               dlt_net_params(net), host_sumsq, host_scale, 0};
    follow(s, net);
    if (dlt_solver_memory(s) == DLT_DEVICE) {
        p.w = dlt_net_device_params(net), p.g = dlt_net_device_grads(net);
        p.h[0] = s->ghistory[0], p.h[1] = s->ghistory[1];
        p.sumsq = dlt__dev_sumsq, p.scale = dlt__dev_scale, p.device = 1;
    }
    return p;
}

double dlt_solver_step(dlt_solver *s, dlt_net *net, long iter)
{
    const dlt_solver_config *c = &s->cfg;
    const double lr = dlt_solver_lr(c, iter);
    const place p = where(s, net);
    size_t n = dlt_net_param_count(net);
    double norm = 0;
    if (s->grad_scale != 1) /* loss scaling undone first: clipping sees the true gradients */
        p.scale(p.g, n, (float)s->grad_scale);
    if (c->clip_gradients >= 0) { /* Caffe's ClipGradients on the global L2 norm (in double here) */
        norm = sqrt(p.sumsq(p.g, n));
        if (norm > c->clip_gradients)
            p.scale(p.g, n, (float)(c->clip_gradients / norm));
    }
    if (c->iter_size > 1) /* Caffe's Normalize: the accumulated sum becomes a mean */
        p.scale(p.g, n, 1.0f / (float)c->iter_size);
    solver_step_fn *step = p.device ? s->kind->device : s->kind->host;
    for (int li = 0; li < dlt_net_num_layers(net); li++) {
        dlt_layer *l = dlt_net_layer(net, li);
        for (int k = 0; k < l->nparam; k++) {
            size_t off = (size_t)(l->param[k].data - p.base);
            dlt__update_args a = {.rate = (float)(lr * l->lr_mult[k]),
                                  .decay = (float)(c->weight_decay * l->decay_mult[k]),
                                  .l1 = c->regularization == DLT_REG_L1,
                                  .momentum = (float)c->momentum,
                                  .momentum2 = (float)c->momentum2,
                                  .rms_decay = (float)c->rms_decay,
                                  .delta = (float)c->delta};
            s->kind->prepare(&a, c, iter);
            step(&a, p.w + off, p.g + off, p.h[0] + off, p.h[1] ? p.h[1] + off : NULL,
                 l->param[k].count);
        }
    }
    return norm;
}

void dlt_sgd_update(const dlt_solver_config *cfg, dlt_net *net, float *history, double lr)
{
    float *base = dlt_net_params(net);
    for (int li = 0; li < dlt_net_num_layers(net); li++) {
        dlt_layer *l = dlt_net_layer(net, li);
        for (int p = 0; p < l->nparam; p++) {
            dlt_tensor *t = &l->param[p];
            dlt__update_args a = {.rate = (float)(lr * l->lr_mult[p]),
                                  .decay = (float)(cfg->weight_decay * l->decay_mult[p]),
                                  .momentum = (float)cfg->momentum};
            solver_kinds[DLT_SOLVER_SGD].host(&a, t->data, t->diff, history + (t->data - base), NULL,
                                              t->count);
        }
    }
}
