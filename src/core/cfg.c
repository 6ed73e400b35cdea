/* cfg.c - the configuration tree the prototxt parser builds: freeing it,
 * lookups that track use, typed conversions and the unknown-field check. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cfg.h"
#include "dltrain/error.h"

/* Compiler-style "FILE:LINE:COL: error: WHAT" so editors can jump to the
 * spot; this is the user-facing format, so not dlt_error's "(src:line)". */
int dlt_cfg_error_at(const char *file, int line, int col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d:%d: error: %s\n", file, line, col, msg);
    fflush(stderr);
    return DLT_ERR_PARSE;
}

static void free_nodes(dlt_cfg *n)
{
    while (n) {
        dlt_cfg *next = n->next;
        free_nodes(n->child); /* depth is bounded by the parser */
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

void dlt_cfg_free(dlt_cfg *root)
{
    if (!root)
        return;
    char *file = (char *)root->file; /* the root owns the name all nodes share */
    free_nodes(root);
    free(file);
}

/* ---- lookups --------------------------------------------------------------- */

/* Use tracking is the one mutation allowed through the const tree the
 * consumers see (documented in prototxt.h). */
static void set_used(const dlt_cfg *n) { ((dlt_cfg *)n)->used = 1; }

static const dlt_cfg *next_named(const dlt_cfg *n, const char *name)
{
    while (n && strcmp(n->name, name) != 0)
        n = n->next;
    return n;
}

const dlt_cfg *dlt_cfg_nth(const dlt_cfg *msg, const char *name, int index)
{
    if (!msg || !name || index < 0)
        return NULL;
    for (const dlt_cfg *c = next_named(msg->child, name); c; c = next_named(c->next, name))
        if (index-- == 0) {
            set_used(c);
            return c;
        }
    return NULL;
}

const dlt_cfg *dlt_cfg_get(const dlt_cfg *msg, const char *name)
{
    return dlt_cfg_nth(msg, name, 0);
}

int dlt_cfg_count(const dlt_cfg *msg, const char *name)
{
    int k = 0;
    if (!msg || !name)
        return 0;
    for (const dlt_cfg *c = next_named(msg->child, name); c; c = next_named(c->next, name))
        k++;
    return k;
}

void dlt_cfg_mark_used(const dlt_cfg *node)
{
    if (!node)
        return;
    set_used(node);
    for (const dlt_cfg *c = node->child; c; c = c->next)
        dlt_cfg_mark_used(c);
}

const char *dlt_cfg_where(const dlt_cfg *node, char *buf, int size)
{
    if (!buf || size <= 0)
        return "";
    if (!node)
        snprintf(buf, (size_t)size, "?");
    else
        snprintf(buf, (size_t)size, "%s:%d:%d", node->file ? node->file : "?", node->line,
                 node->col);
    return buf;
}

/* ---- typed conversions --------------------------------------------------- */

/* ASCII case-insensitive match of S[0..n) against lowercase LIT (strcasecmp
 * is POSIX, not C11). */
static int word_is(const char *s, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n && lit[i]; i++)
        if ((s[i] | 0x20) != lit[i])
            return 0;
    return i == n && lit[i] == '\0';
}

int dlt_cfg_is_inf_nan(const char *s, size_t n)
{
    return word_is(s, n, "inf") || word_is(s, n, "infinity") || word_is(s, n, "nan");
}

/* The value as the user wrote it, for "got X" in messages. */
static const char *value_text(const dlt_cfg *n, char *buf, size_t size)
{
    switch (n->kind) {
    case DLT_CFG_MESSAGE: return "a message { ... }";
    case DLT_CFG_STRING: snprintf(buf, size, "\"%s\"", n->text); return buf;
    default: return n->text;
    }
}

static int type_error(const dlt_cfg *n, const char *expected, const char *hint)
{
    char v[128];
    return dlt_cfg_error_at(n->file, n->line, n->col, "field '%s' expects %s, got %s%s", n->name,
                    expected, value_text(n, v, sizeof v), hint ? hint : "");
}

/* Protobuf reads "0x" as hex; a leading 0 is kept decimal because Caffe
 * users never mean octal. Returns 1, 0 if not an integer, -1 on overflow. */
static int parse_long(const char *s, long *out)
{
    const char *p = s + (s[0] == '+' || s[0] == '-');
    int base = (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) ? 16 : 10;
    char *end;
    errno = 0;
    long v = strtol(s, &end, base);
    if (end == s || *end != '\0')
        return 0;
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 1;
}

/* Protobuf's int32/uint32 fields (all of Caffe's integers but random_seed)
 * land in int: a value beyond int is refused here, where the field's
 * line is known, rather than wrapped by a cast later (4294967316 as
 * num_output would train a 20-output layer). */
static int node_int_in(const dlt_cfg *node, long lo, long hi, const char *kind, long *out)
{
    long v = 0;
    if (!node || !out)
        return DLT_ERR_ARG;
    set_used(node);
    int r = node->kind == DLT_CFG_NUMBER ? parse_long(node->text, &v) : 0;
    if (r == 0)
        return type_error(node, "an integer", NULL);
    if (r < 0 || v < lo || v > hi)
        return dlt_cfg_error_at(node->file, node->line, node->col,
                        "value %s of field '%s' is out of range for %s (%ld to %ld)",
                        node->text, node->name, kind, lo, hi);
    *out = v;
    return 0;
}

int dlt_cfg_node_int(const dlt_cfg *node, long *out)
{
    return node_int_in(node, INT_MIN, INT_MAX, "a 32-bit integer", out);
}

int dlt_cfg_node_int64(const dlt_cfg *node, long *out)
{
    return node_int_in(node, LONG_MIN, LONG_MAX, "a 64-bit integer", out);
}

int dlt_cfg_node_float(const dlt_cfg *node, double *out)
{
    if (!node || !out)
        return DLT_ERR_ARG;
    set_used(node);
    /* Numbers, and bare inf/nan which protobuf accepts for float fields. */
    int ok = node->kind == DLT_CFG_NUMBER ||
             (node->kind == DLT_CFG_IDENT && dlt_cfg_is_inf_nan(node->text, strlen(node->text)));
    char *end = NULL;
    double v = 0;
    if (ok) {
        errno = 0;
        v = strtod(node->text, &end);
        ok = end != node->text && *end == '\0';
    }
    if (!ok)
        return type_error(node, "a number", NULL);
    if (errno == ERANGE && isinf(v))
        return dlt_cfg_error_at(node->file, node->line, node->col,
                        "value %s of field '%s' is out of range for a double", node->text,
                        node->name);
    *out = v;
    return 0;
}

int dlt_cfg_node_string(const dlt_cfg *node, const char **out)
{
    if (!node || !out)
        return DLT_ERR_ARG;
    set_used(node);
    if (node->kind != DLT_CFG_STRING) {
        char hint[256];
        hint[0] = '\0';
        if (node->kind != DLT_CFG_MESSAGE)
            snprintf(hint, sizeof hint, " (HINT: quote it: %s: \"%s\")", node->name, node->text);
        return type_error(node, "a quoted string", hint);
    }
    *out = node->text;
    return 0;
}

static int node_bool(const dlt_cfg *node, int *out)
{
    static const char *const yes[] = { "true", "True", "1", NULL };
    static const char *const no[] = { "false", "False", "0", NULL };
    set_used(node);
    if (node->kind == DLT_CFG_IDENT || node->kind == DLT_CFG_NUMBER) {
        for (int i = 0; yes[i]; i++)
            if (strcmp(node->text, yes[i]) == 0) {
                *out = 1;
                return 0;
            }
        for (int i = 0; no[i]; i++)
            if (strcmp(node->text, no[i]) == 0) {
                *out = 0;
                return 0;
            }
    }
    return type_error(node, "true or false", NULL);
}

/* Identifiers; a quoted string equal to an allowed name is tolerated. */
static int node_enum(const dlt_cfg *node, const char *const *names, int *out)
{
    set_used(node);
    if (node->kind == DLT_CFG_IDENT || node->kind == DLT_CFG_STRING)
        for (int i = 0; names && names[i]; i++)
            if (strcmp(node->text, names[i]) == 0) {
                *out = i;
                return 0;
            }

    char list[512], v[128];
    size_t n = 0;
    list[0] = '\0';
    for (int i = 0; names && names[i] && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", names[i]);
    const char *got = node->kind == DLT_CFG_MESSAGE ? "{ ... }"
                      : node->kind == DLT_CFG_STRING ? value_text(node, v, sizeof v)
                                                    : node->text;
    return dlt_cfg_error_at(node->file, node->line, node->col,
                    "bad value '%s' for field '%s' (expected one of: %s)", got, node->name, list);
}

/* ---- field getters ---------------------------------------------------------
 * Protobuf keeps the last of repeated scalar values. Every occurrence is
 * converted (so an earlier bad value is still reported) and marked used. */

#define PT_FOR_EACH(c, msg, name) \
    for (const dlt_cfg *c = next_named((msg)->child, (name)); c; c = next_named(c->next, (name)))

int dlt_cfg_int(const dlt_cfg *msg, const char *name, long def, long *out)
{
    long v = def;
    *out = def;
    if (!msg || !name)
        return 0;
    PT_FOR_EACH(c, msg, name)
        DLT_TRY(dlt_cfg_node_int(c, &v));
    *out = v;
    return 0;
}

int dlt_cfg_int64(const dlt_cfg *msg, const char *name, long def, long *out)
{
    long v = def;
    *out = def;
    if (!msg || !name)
        return 0;
    PT_FOR_EACH(c, msg, name)
        DLT_TRY(dlt_cfg_node_int64(c, &v));
    *out = v;
    return 0;
}

int dlt_cfg_float(const dlt_cfg *msg, const char *name, double def, double *out)
{
    double v = def;
    *out = def;
    if (!msg || !name)
        return 0;
    PT_FOR_EACH(c, msg, name)
        DLT_TRY(dlt_cfg_node_float(c, &v));
    *out = v;
    return 0;
}

int dlt_cfg_bool(const dlt_cfg *msg, const char *name, int def, int *out)
{
    int v = def;
    *out = def;
    if (!msg || !name)
        return 0;
    PT_FOR_EACH(c, msg, name)
        DLT_TRY(node_bool(c, &v));
    *out = v;
    return 0;
}

int dlt_cfg_string(const dlt_cfg *msg, const char *name, const char *def, const char **out)
{
    const char *v = def;
    *out = def;
    if (!msg || !name)
        return 0;
    PT_FOR_EACH(c, msg, name)
        DLT_TRY(dlt_cfg_node_string(c, &v));
    *out = v;
    return 0;
}

int dlt_cfg_enum(const dlt_cfg *msg, const char *name, const char *const *names, int def,
                int *out)
{
    int v = def;
    *out = def;
    if (!msg || !name)
        return 0;
    PT_FOR_EACH(c, msg, name)
        DLT_TRY(node_enum(c, names, &v));
    *out = v;
    return 0;
}

/* ---- unknown fields -------------------------------------------------------- */

static int in_list(const char *name, const char *const *list)
{
    for (int i = 0; list && list[i]; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

/* A used message may still hold unread (misspelled) fields, so descend
 * into it; an unused one is reported once, not once per child. */
static int check_children(const dlt_cfg *msg, const char *const *ignorable)
{
    int errors = 0;
    char where[1024];
    for (const dlt_cfg *c = msg->child; c; c = c->next) {
        if (c->used) {
            if (c->kind == DLT_CFG_MESSAGE)
                errors += check_children(c, ignorable);
        } else if (in_list(c->name, ignorable)) {
            dlt_note_once(c->name, "field '%s' (%s) has no meaning in dltrain and is ignored",
                          c->name, dlt_cfg_where(c, where, sizeof where));
        } else {
            if (msg->name[0])
                dlt_cfg_error_at(c->file, c->line, c->col, "unknown field '%s' in '%s'", c->name,
                         msg->name);
            else
                dlt_cfg_error_at(c->file, c->line, c->col, "unknown field '%s' at top level", c->name);
            errors++;
        }
    }
    return errors;
}

int dlt_cfg_check_unused(const dlt_cfg *root, const char *const *ignorable)
{
    return root ? check_children(root, ignorable) : 0;
}
