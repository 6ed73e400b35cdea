/* cfg.h - a parsed configuration tree (a Caffe NetParameter or
 * SolverParameter, or any message of one) with typed, use-tracked
 * accessors, so unknown fields can be reported afterwards. The prototxt
 * parser (prototxt.h, src/net/) builds it; layers and solvers read it. */
#ifndef DLTRAIN_CFG_H
#define DLTRAIN_CFG_H

#include <stddef.h>

typedef enum {
    DLT_CFG_MESSAGE, /* name { ... } */
    DLT_CFG_NUMBER,  /* name: 12 | -0.5 | 1e-4 */
    DLT_CFG_STRING,  /* name: "text" (escapes decoded; adjacent strings joined) */
    DLT_CFG_IDENT    /* name: MAX | true | TRAIN (enums and booleans) */
} dlt_cfg_kind;

/* One field. Nodes, their name and text are malloc'ed, file by the root
 * only (every node of a tree points to the root's copy). */
typedef struct dlt_cfg {
    char *name;               /* field name; "" for the root */
    dlt_cfg_kind kind;
    char *text;               /* scalar value as written (decoded for strings) */
    struct dlt_cfg *child;    /* first field of a message */
    struct dlt_cfg *next;     /* next field in the same message */
    const char *file;         /* owned by the root; for messages */
    int line, col;            /* where the field name starts (1-based) */
    int used;                 /* set by accessors; checked by dlt_cfg_check_unused */
} dlt_cfg;

void dlt_cfg_free(dlt_cfg *root);

/* Lookups mark the node used. Missing fields return NULL / 0. */
const dlt_cfg *dlt_cfg_get(const dlt_cfg *msg, const char *name);
int dlt_cfg_count(const dlt_cfg *msg, const char *name);
/* Whether S[0..n) is inf, infinity or nan (any case): the float spellings of
 * protobuf's text format, which the parser reads as identifiers. */
int dlt_cfg_is_inf_nan(const char *s, size_t n);
const dlt_cfg *dlt_cfg_nth(const dlt_cfg *msg, const char *name, int index);

/* Typed getters: if the field is absent, *out = def and 0 is returned.
 * A value of the wrong type (e.g. a string for an int, 2.5 for an int,
 * an identifier not in the enum) prints FILE:LINE:COL and returns
 * DLT_ERR_PARSE. For repeated scalars, the last value wins (protobuf).
 * dlt_cfg_int refuses a value outside int (-2147483648..2147483647: Caffe's
 * int32/uint32 fields, stored in int), naming the field, line and value;
 * dlt_cfg_int64 is for int64 fields (random_seed). */
int dlt_cfg_int(const dlt_cfg *msg, const char *name, long def, long *out);
int dlt_cfg_int64(const dlt_cfg *msg, const char *name, long def, long *out);
int dlt_cfg_float(const dlt_cfg *msg, const char *name, double def, double *out);
int dlt_cfg_bool(const dlt_cfg *msg, const char *name, int def, int *out);
int dlt_cfg_string(const dlt_cfg *msg, const char *name, const char *def, const char **out);
/* names: NULL-terminated list of allowed identifiers; *out = index. */
int dlt_cfg_enum(const dlt_cfg *msg, const char *name, const char *const *names,
                 int def, int *out);
/* Scalar conversions of one node (for repeated fields read with dlt_cfg_nth). */
int dlt_cfg_node_int(const dlt_cfg *node, long *out);
int dlt_cfg_node_int64(const dlt_cfg *node, long *out);
int dlt_cfg_node_float(const dlt_cfg *node, double *out);
int dlt_cfg_node_string(const dlt_cfg *node, const char **out);

/* Mark a node and its whole subtree used (e.g. a layer of another phase). */
void dlt_cfg_mark_used(const dlt_cfg *node);

/* Walk the tree after the consumers are done. A field still unused whose
 * name is in IGNORABLE (NULL-terminated) is noted once in the log as
 * having no meaning here; any other unused field is an error
 * "FILE:LINE:COL: error: unknown field 'x' in 'parent'". Returns the
 * number of errors reported (0 = fine). */
int dlt_cfg_check_unused(const dlt_cfg *root, const char *const *ignorable);

/* Format "FILE:LINE:COL" of a node, for callers' own error messages. */
const char *dlt_cfg_where(const dlt_cfg *node, char *buf, int size);

/* "FILE:LINE:COL: error: WHAT" on stderr, the compiler-style format
 * editors jump to; returns DLT_ERR_PARSE. */
int dlt_cfg_error_at(const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
