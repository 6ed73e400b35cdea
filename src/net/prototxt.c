/* prototxt.c - parser for Caffe's protobuf text format (NetParameter,
 * SolverParameter) into the configuration tree of dltrain/cfg.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/readfile.h"
#include "dltrain/error.h"
#include "dltrain/prototxt.h"

/* Nesting bound so hostile input cannot exhaust the C stack; real Caffe
 * nets nest 4 levels deep (layer > convolution_param > weight_filler). */
#define PT_MAX_DEPTH 100
#define PT_EOF (-1)

/* ---- lexer -------------------------------------------------------------- */

typedef struct {
    const char *src;   /* input bytes (checked to hold no NUL) */
    size_t len, pos;
    int line, col;     /* position of src[pos], 1-based */
    const char *file;  /* name for messages: the root's copy */
    int depth;         /* messages currently open */
} pt_lexer;

/* Growable byte buffer for decoded strings. */
typedef struct {
    char *p;
    size_t n, cap;
} pt_buf;

static void buf_put(pt_buf *b, int c)
{
    if (b->n + 1 >= b->cap) {
        b->cap = b->cap ? 2 * b->cap : 32;
        b->p = dlt_realloc(b->p, b->cap);
    }
    b->p[b->n++] = (char)c;
    b->p[b->n] = '\0';
}

static int peek_at(const pt_lexer *lx, size_t k)
{
    return lx->pos + k < lx->len ? (unsigned char)lx->src[lx->pos + k] : PT_EOF;
}

static int peek(const pt_lexer *lx) { return peek_at(lx, 0); }

static void advance(pt_lexer *lx)
{
    if (lx->pos >= lx->len)
        return;
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_xdigit(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_ident_start(int c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

static void skip_space(pt_lexer *lx)
{
    for (;;) {
        int c = peek(lx);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            advance(lx);
        } else if (c == '#') {
            while (peek(lx) != PT_EOF && peek(lx) != '\n')
                advance(lx);
        } else {
            return;
        }
    }
}

/* Name the character at the cursor for "got X" in messages. */
static const char *describe(const pt_lexer *lx, char *buf, size_t size)
{
    int c = peek(lx);
    if (c == PT_EOF)
        return "end of file";
    if (c == '\n' || c == '\r')
        return "end of line";
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

static char *copy_range(const pt_lexer *lx, size_t start, size_t end)
{
    char *s = dlt_malloc(end - start + 1);
    memcpy(s, lx->src + start, end - start);
    s[end - start] = '\0';
    return s;
}

static char *read_ident(pt_lexer *lx)
{
    size_t start = lx->pos;
    while (is_ident_char(peek(lx)))
        advance(lx);
    return copy_range(lx, start, lx->pos);
}

/* Report a malformed number, showing the whole run of number-like bytes. */
static int bad_number(pt_lexer *lx, size_t start, int line, int col)
{
    while (is_ident_char(peek(lx)) || peek(lx) == '.' || peek(lx) == '+' || peek(lx) == '-')
        advance(lx);
    char *text = copy_range(lx, start, lx->pos);
    dlt_cfg_error_at(lx->file, line, col, "malformed number '%s'", text);
    free(text);
    return DLT_ERR_PARSE;
}

/* Decimal or hex integers, decimal floats with exponent, an 'f' suffix
 * after a float and signed inf/nan, as protobuf's tokenizer accepts.
 * The text is kept as written; getters decide int vs float. */
static int read_number(pt_lexer *lx, char **out)
{
    int line = lx->line, col = lx->col;
    size_t start = lx->pos, end;
    int digits = 0, is_float = 0;

    if (peek(lx) == '-' || peek(lx) == '+')
        advance(lx);
    if (is_ident_start(peek(lx))) { /* -inf, -nan */
        size_t w = lx->pos;
        while (is_ident_char(peek(lx)))
            advance(lx);
        if (!dlt_cfg_is_inf_nan(lx->src + w, lx->pos - w))
            return bad_number(lx, start, line, col);
        *out = copy_range(lx, start, lx->pos);
        return 0;
    }
    if (peek(lx) == '0' && (peek_at(lx, 1) == 'x' || peek_at(lx, 1) == 'X')) {
        advance(lx);
        advance(lx);
        while (is_xdigit(peek(lx))) {
            advance(lx);
            digits++;
        }
    } else {
        while (is_digit(peek(lx))) {
            advance(lx);
            digits++;
        }
        if (peek(lx) == '.') {
            advance(lx);
            is_float = 1;
            while (is_digit(peek(lx))) {
                advance(lx);
                digits++;
            }
        }
        if (digits && (peek(lx) == 'e' || peek(lx) == 'E')) {
            int exp_digits = 0;
            advance(lx);
            is_float = 1;
            if (peek(lx) == '-' || peek(lx) == '+')
                advance(lx);
            while (is_digit(peek(lx))) {
                advance(lx);
                exp_digits++;
            }
            if (!exp_digits)
                return bad_number(lx, start, line, col);
        }
    }
    end = lx->pos;
    if (is_float && (peek(lx) == 'f' || peek(lx) == 'F'))
        advance(lx);
    if (!digits || is_ident_char(peek(lx)) || peek(lx) == '.')
        return bad_number(lx, start, line, col);
    *out = copy_range(lx, start, end);
    return 0;
}

/* One backslash escape, the backslash already consumed at (line, col). */
static int read_escape(pt_lexer *lx, pt_buf *b, int line, int col)
{
    int c = peek(lx), v;
    if (c == PT_EOF || c == '\n')
        return 0; /* the caller reports the unterminated string */
    advance(lx);
    switch (c) {
    case 'n': v = '\n'; break;
    case 't': v = '\t'; break;
    case 'r': v = '\r'; break;
    case 'a': v = '\a'; break;
    case 'b': v = '\b'; break;
    case 'f': v = '\f'; break;
    case 'v': v = '\v'; break;
    case '\\': case '\'': case '"': case '?': v = c; break;
    case 'x': case 'X':
        if (!is_xdigit(peek(lx)))
            return dlt_cfg_error_at(lx->file, line, col, "\\x escape without hex digits");
        v = 0;
        for (int i = 0; i < 2 && is_xdigit(peek(lx)); i++) {
            int d = peek(lx);
            v = 16 * v + (is_digit(d) ? d - '0' : (d | 0x20) - 'a' + 10);
            advance(lx);
        }
        break;
    default:
        if (c >= '0' && c <= '7') {
            v = c - '0';
            for (int i = 0; i < 2 && peek(lx) >= '0' && peek(lx) <= '7'; i++) {
                v = 8 * v + peek(lx) - '0';
                advance(lx);
            }
            if (v > 255)
                return dlt_cfg_error_at(lx->file, line, col, "octal escape out of range");
            break;
        }
        if (c > 0x20 && c < 0x7f)
            return dlt_cfg_error_at(lx->file, line, col, "unknown escape sequence '\\%c' in string", c);
        return dlt_cfg_error_at(lx->file, line, col, "unknown escape sequence in string");
    }
    /* Values are C strings; an embedded NUL would silently truncate. */
    if (v == 0)
        return dlt_cfg_error_at(lx->file, line, col, "string contains a NUL character");
    buf_put(b, v);
    return 0;
}

static int read_one_string(pt_lexer *lx, pt_buf *b)
{
    int line = lx->line, col = lx->col, quote = peek(lx);
    advance(lx);
    for (;;) {
        int c = peek(lx);
        /* Protobuf forbids raw newlines in strings; stopping at the line end
         * points the user at the missing quote instead of the next field. */
        if (c == PT_EOF || c == '\n')
            return dlt_cfg_error_at(lx->file, line, col, "unterminated string");
        int eline = lx->line, ecol = lx->col;
        advance(lx);
        if (c == quote)
            return 0;
        if (c == '\\')
            DLT_TRY(read_escape(lx, b, eline, ecol));
        else
            buf_put(b, c);
    }
}

/* Adjacent literals form one value, as in C and protobuf. */
static int read_strings(pt_lexer *lx, char **out)
{
    pt_buf b = { dlt_malloc(32), 0, 32 };
    b.p[0] = '\0'; /* "" is a valid value */
    do {
        int st = read_one_string(lx, &b);
        if (st < 0) {
            free(b.p);
            return st;
        }
        skip_space(lx);
    } while (peek(lx) == '"' || peek(lx) == '\'');
    *out = b.p;
    return 0;
}

/* ---- parser -------------------------------------------------------------- */

/* Appends the fields of one message in file order. */
typedef struct {
    dlt_cfg **tail;
} pt_builder;

static dlt_cfg *append_node(pt_lexer *lx, pt_builder *b, const char *name,
                              dlt_cfg_kind kind, int line, int col)
{
    dlt_cfg *n = dlt_calloc(1, sizeof *n);
    n->name = dlt_strdup(name);
    n->kind = kind;
    n->file = lx->file;
    n->line = line;
    n->col = col;
    *b->tail = n;
    b->tail = &n->next;
    return n;
}

static int parse_fields(pt_lexer *lx, dlt_cfg *msg, int closer);

/* The opening '{' or '<' is at the cursor. Line/col are the field name's. */
static int parse_message(pt_lexer *lx, pt_builder *b, const char *name, int line, int col)
{
    if (lx->depth >= PT_MAX_DEPTH)
        return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                        "messages nested deeper than %d levels", PT_MAX_DEPTH);
    int closer = peek(lx) == '{' ? '}' : '>';
    advance(lx);
    /* Linked in before parsing so a syntax error inside frees it with the tree. */
    dlt_cfg *n = append_node(lx, b, name, DLT_CFG_MESSAGE, line, col);
    lx->depth++;
    int st = parse_fields(lx, n, closer);
    lx->depth--;
    return st;
}

static int parse_scalar(pt_lexer *lx, pt_builder *b, const char *name, int line, int col)
{
    int c = peek(lx);
    char *text = NULL;
    dlt_cfg_kind kind;

    if (c == '"' || c == '\'') {
        DLT_TRY(read_strings(lx, &text));
        kind = DLT_CFG_STRING;
    } else if (is_digit(c) || c == '-' || c == '+' || c == '.') {
        DLT_TRY(read_number(lx, &text));
        kind = DLT_CFG_NUMBER;
    } else if (is_ident_start(c)) {
        /* "a:\n  b: 1" would otherwise read b as a's value and then fail
         * on the ':' with a message about the wrong field. */
        pt_lexer look = *lx;
        while (is_ident_char(peek(&look)))
            advance(&look);
        skip_space(&look);
        if (peek(&look) == ':' || peek(&look) == '{')
            return dlt_cfg_error_at(lx->file, line, col, "missing value for field '%s'", name);
        text = read_ident(lx);
        kind = DLT_CFG_IDENT;
    } else {
        return dlt_cfg_error_at(lx->file, line, col, "missing value for field '%s'", name);
    }
    append_node(lx, b, name, kind, line, col)->text = text;
    return 0;
}

/* "name: [v1, v2]" is shorthand for repeating the field; each element
 * becomes a sibling node located at the field name. */
static int parse_list(pt_lexer *lx, pt_builder *b, const char *name, int line, int col)
{
    char d[32];
    advance(lx); /* '[' */
    skip_space(lx);
    if (peek(lx) == ']') {
        advance(lx);
        return 0;
    }
    for (;;) {
        skip_space(lx);
        if (peek(lx) == '{' || peek(lx) == '<')
            DLT_TRY(parse_message(lx, b, name, line, col));
        else
            DLT_TRY(parse_scalar(lx, b, name, line, col));
        skip_space(lx);
        if (peek(lx) == ',') {
            advance(lx);
        } else if (peek(lx) == ']') {
            advance(lx);
            return 0;
        } else {
            return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                            "expected ',' or ']' in the list of values of field '%s', got %s",
                            name, describe(lx, d, sizeof d));
        }
    }
}

/* A field whose name was just read, ending at (end_line, end_col). */
static int parse_field_body(pt_lexer *lx, pt_builder *b, const char *name, int line, int col,
                            int end_line, int end_col)
{
    skip_space(lx);
    int c = peek(lx);
    if (c == ':') {
        advance(lx);
        skip_space(lx);
        c = peek(lx);
        if (c == '[')
            return parse_list(lx, b, name, line, col);
        if (c != '{' && c != '<')
            return parse_scalar(lx, b, name, line, col);
    } else if (c != '{' && c != '<') {
        /* Point at the offending token, or just past the name when the
         * token is on a later line (the mistake is on the name's line). */
        if (lx->line == end_line)
            return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                            "expected ':' or '{' after field name '%s'", name);
        return dlt_cfg_error_at(lx->file, end_line, end_col,
                        "expected ':' or '{' after field name '%s'", name);
    }
    return parse_message(lx, b, name, line, col);
}

static int parse_field(pt_lexer *lx, pt_builder *b)
{
    int line = lx->line, col = lx->col;
    char *name = read_ident(lx);
    int st = parse_field_body(lx, b, name, line, col, lx->line, lx->col);
    free(name);
    return st;
}

/* Fields of MSG up to CLOSER ('}' or '>'), or to end of input for the
 * root (CLOSER 0). */
static int parse_fields(pt_lexer *lx, dlt_cfg *msg, int closer)
{
    pt_builder b = { &msg->child };
    char d[32];
    for (;;) {
        skip_space(lx);
        int c = peek(lx);
        if (c == PT_EOF) {
            if (!closer)
                return 0;
            return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                            "unterminated message '%s' (opened at %d:%d)",
                            msg->name, msg->line, msg->col);
        }
        if (c == '}' || c == '>') {
            if (c == closer) {
                advance(lx);
                return 0;
            }
            if (!closer)
                return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                                "unexpected '%c' (no message is open)", c);
            return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                            "expected '%c' to close message '%s' (opened at %d:%d), got '%c'",
                            closer, msg->name, msg->line, msg->col, c);
        }
        if (!is_ident_start(c))
            return dlt_cfg_error_at(lx->file, lx->line, lx->col, "expected a field name, got %s",
                            describe(lx, d, sizeof d));
        DLT_TRY(parse_field(lx, &b));
        skip_space(lx);
        if (peek(lx) == ';' || peek(lx) == ',')
            advance(lx);
    }
}

/* A NUL byte means a binary file was passed; reject it up front so the
 * lexer can treat every byte as text. */
static int check_nul(pt_lexer *lx)
{
    const char *z = memchr(lx->src, '\0', lx->len);
    if (!z)
        return 0;
    while (lx->src + lx->pos < z)
        advance(lx);
    return dlt_cfg_error_at(lx->file, lx->line, lx->col,
                    "NUL byte in input (HINT: is this a binary file, e.g. a "
                    ".caffemodel or .binaryproto, rather than a .prototxt?)");
}

static int parse_buffer(const char *src, size_t len, const char *name, dlt_cfg **root)
{
    dlt_cfg *r = dlt_calloc(1, sizeof *r);
    r->name = dlt_strdup("");
    r->kind = DLT_CFG_MESSAGE;
    r->file = dlt_strdup(name);
    r->line = r->col = 1;

    pt_lexer lx = { src, len, 0, 1, 1, r->file, 0 };
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        lx.pos = 3; /* UTF-8 byte order mark from Windows editors */
    int st = check_nul(&lx);
    if (st == 0)
        st = parse_fields(&lx, r, 0);
    if (st < 0) {
        dlt_cfg_free(r);
        *root = NULL;
        return st;
    }
    *root = r;
    return 0;
}

int dlt_pt_parse_string(const char *text, const char *name, dlt_cfg **root)
{
    if (!root)
        return DLT_ERR_ARG;
    *root = NULL;
    if (!text)
        return DLT_ERR_ARG;
    return parse_buffer(text, strlen(text), name ? name : "<string>", root);
}

int dlt_pt_parse_file(const char *path, dlt_cfg **root)
{
    if (!root)
        return DLT_ERR_ARG;
    *root = NULL;
    if (!path)
        return DLT_ERR_ARG;
    char *buf;
    size_t n;
    DLT_TRY(dlt__read_file(path, "prototxt", DLT_TEXT_FILE_LIMIT, &buf, &n));
    int st = parse_buffer(buf, n, path, root);
    free(buf);
    return st;
}
