/* json.c - recursive-descent JSON reader (RFC 8259 subset enough for our
 * files: \uXXXX escapes become '?' outside ASCII). Depth is bounded so a
 * corrupt line cannot exhaust the stack. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "monitor/json.h"

#define MAX_DEPTH 32

typedef struct parser {
    const char *p;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static int parse_value(parser *ps, dlt__json *out);

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_string(parser *ps, char **out)
{
    if (*ps->p != '"')
        return -1;
    ps->p++;
    size_t cap = 16, n = 0;
    char *s = dlt_malloc(cap);
    while (*ps->p != '"') {
        char c = *ps->p++;
        if (c == '\0' || (unsigned char)c < 0x20)
            goto bad;
        if (c == '\\') {
            char e = *ps->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(*ps->p++);
                    if (h < 0)
                        goto bad;
                    v = v * 16 + h;
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default: goto bad;
            }
        }
        if (n + 2 > cap)
            s = dlt_realloc(s, cap *= 2);
        s[n++] = c;
    }
    ps->p++;
    s[n] = '\0';
    *out = s;
    return 0;
bad:
    free(s);
    return -1;
}

static int parse_number(parser *ps, dlt__json *out)
{
    const char *start = ps->p;
    if (*ps->p == '-')
        ps->p++;
    if (!(*ps->p >= '0' && *ps->p <= '9'))
        return -1;
    char *end;
    out->num = strtod(start, &end);
    if (end == start)
        return -1;
    ps->p = end;
    out->type = DLT__J_NUM;
    return 0;
}

static int parse_items(parser *ps, dlt__json *out, int object)
{
    char close = object ? '}' : ']';
    int cap = 0;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->items = dlt_realloc(out->items, (size_t)cap * sizeof *out->items);
            if (object)
                out->keys = dlt_realloc(out->keys, (size_t)cap * sizeof *out->keys);
        }
        skip_ws(ps);
        if (object) {
            if (parse_string(ps, &out->keys[out->n]) < 0)
                return -1;
            skip_ws(ps);
            if (*ps->p++ != ':') {
                free(out->keys[out->n]);
                return -1;
            }
        }
        memset(&out->items[out->n], 0, sizeof *out->items);
        out->n++; /* counted now so that dlt__json_free releases it on failure */
        if (parse_value(ps, &out->items[out->n - 1]) < 0)
            return -1;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        return -1;
    }
}

static int parse_value(parser *ps, dlt__json *out)
{
    skip_ws(ps);
    memset(out, 0, sizeof *out);
    char c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > MAX_DEPTH)
            return -1;
        out->type = c == '{' ? DLT__J_OBJ : DLT__J_ARR;
        int st = parse_items(ps, out, c == '{');
        ps->depth--;
        return st;
    }
    if (c == '"') {
        out->type = DLT__J_STR;
        return parse_string(ps, &out->str);
    }
    if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
        out->type = DLT__J_BOOL;
        out->num = c == 't';
        ps->p += c == 't' ? 4 : 5;
        return 0;
    }
    if (strncmp(ps->p, "null", 4) == 0) {
        out->type = DLT__J_NULL;
        ps->p += 4;
        return 0;
    }
    return parse_number(ps, out);
}

static void free_inner(dlt__json *v)
{
    free(v->str);
    for (int i = 0; i < v->n; i++) {
        free_inner(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

dlt__json *dlt__json_parse(const char *text)
{
    parser ps = {text, 0};
    dlt__json *v = dlt_calloc(1, sizeof *v);
    int st = parse_value(&ps, v);
    skip_ws(&ps);
    if (st < 0 || *ps.p != '\0') {
        dlt__json_free(v);
        return NULL;
    }
    return v;
}

void dlt__json_free(dlt__json *v)
{
    if (!v)
        return;
    free_inner(v);
    free(v);
}

const dlt__json *dlt__json_get(const dlt__json *obj, const char *key)
{
    if (!obj || obj->type != DLT__J_OBJ)
        return NULL;
    for (int i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

double dlt__json_num(const dlt__json *obj, const char *key)
{
    const dlt__json *v = dlt__json_get(obj, key);
    return v && v->type == DLT__J_NUM ? v->num : NAN;
}

const char *dlt__json_str(const dlt__json *obj, const char *key)
{
    const dlt__json *v = dlt__json_get(obj, key);
    return v && v->type == DLT__J_STR ? v->str : NULL;
}
