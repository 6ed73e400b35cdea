/* prototxt.h - Caffe's protobuf text format: a parse tree with typed,
 * use-tracked accessors, so unknown fields can be reported afterwards. */
#ifndef DLTRAIN_PROTOTXT_H
#define DLTRAIN_PROTOTXT_H

typedef enum {
    DLT_PT_MESSAGE, /* name { ... } */
    DLT_PT_NUMBER,  /* name: 12 | -0.5 | 1e-4 */
    DLT_PT_STRING,  /* name: "text" (escapes decoded; adjacent strings joined) */
    DLT_PT_IDENT    /* name: MAX | true | TRAIN (enums and booleans) */
} dlt_pt_kind;

typedef struct dlt_pnode {
    char *name;               /* field name; "" for the root */
    dlt_pt_kind kind;
    char *text;               /* scalar value as written (decoded for strings) */
    struct dlt_pnode *child;  /* first field of a message */
    struct dlt_pnode *next;   /* next field in the same message */
    const char *file;         /* owned by the root; for messages */
    int line, col;            /* where the field name starts (1-based) */
    int used;                 /* set by accessors; checked by dlt_pt_check_unused */
} dlt_pnode;

/* Parse a file or a string (NAME is used in messages as the file name).
 * Syntax errors print "FILE:LINE:COL: error: ..." and return DLT_ERR_PARSE. */
int dlt_pt_parse_file(const char *path, dlt_pnode **root);
int dlt_pt_parse_string(const char *text, const char *name, dlt_pnode **root);
void dlt_pt_free(dlt_pnode *root);

/* Lookups mark the node used. Missing fields return NULL / 0. */
const dlt_pnode *dlt_pt_get(const dlt_pnode *msg, const char *name);
int dlt_pt_count(const dlt_pnode *msg, const char *name);
const dlt_pnode *dlt_pt_nth(const dlt_pnode *msg, const char *name, int index);

/* Typed getters: if the field is absent, *out = def and 0 is returned.
 * A value of the wrong type (e.g. a string for an int, 2.5 for an int,
 * an identifier not in the enum) prints FILE:LINE:COL and returns
 * DLT_ERR_PARSE. For repeated scalars, the last value wins (protobuf). */
int dlt_pt_int(const dlt_pnode *msg, const char *name, long def, long *out);
int dlt_pt_float(const dlt_pnode *msg, const char *name, double def, double *out);
int dlt_pt_bool(const dlt_pnode *msg, const char *name, int def, int *out);
int dlt_pt_string(const dlt_pnode *msg, const char *name, const char *def, const char **out);
/* names: NULL-terminated list of allowed identifiers; *out = index. */
int dlt_pt_enum(const dlt_pnode *msg, const char *name, const char *const *names,
                int def, int *out);
/* Scalar conversions of one node (for repeated fields read with dlt_pt_nth). */
int dlt_pt_node_int(const dlt_pnode *node, long *out);
int dlt_pt_node_float(const dlt_pnode *node, double *out);
int dlt_pt_node_string(const dlt_pnode *node, const char **out);

/* Mark a node and its whole subtree used (e.g. a layer of another phase). */
void dlt_pt_mark_used(const dlt_pnode *node);

/* Walk the tree after the consumers are done. A field still unused whose
 * name is in IGNORABLE (NULL-terminated) is noted once in the log as
 * having no meaning here; any other unused field is an error
 * "FILE:LINE:COL: error: unknown field 'x' in 'parent'". Returns the
 * number of errors reported (0 = fine). */
int dlt_pt_check_unused(const dlt_pnode *root, const char *const *ignorable);

/* Format "FILE:LINE:COL" of a node, for callers' own error messages. */
const char *dlt_pt_where(const dlt_pnode *node, char *buf, int size);

#endif
