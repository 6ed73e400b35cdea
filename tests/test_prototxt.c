/* test_prototxt.c - the prototxt parser: Caffe's own LeNet files, the text
 * format's corners, typed getters, unknown fields and error locations. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "dltrain/prototxt.h"
#include "test.h"

/* ---- capturing what the library prints ---------------------------------- */

typedef struct {
    int fd, saved;
    FILE *tmp;
} capture;

static void capture_begin(capture *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    c->fd = fd;
    c->saved = dup(fd);
    c->tmp = tmpfile();
    if (c->saved < 0 || !c->tmp) {
        perror("capture");
        exit(99);
    }
    dup2(fileno(c->tmp), fd);
}

/* Restores the descriptor, returns the captured text in BUF and echoes it
 * as TAP comments so a failing log shows the real message. */
static const char *capture_end(capture *c, char *buf, size_t size)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    rewind(c->tmp);
    size_t n = fread(buf, 1, size - 1, c->tmp);
    buf[n] = '\0';
    fclose(c->tmp);
    for (const char *p = buf; *p;) {
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - p) : (int)strlen(p);
        printf("#   | %.*s\n", len, p);
        p += len + (e != NULL);
    }
    return buf;
}

/* Parse TEXT expecting failure; stderr lands in ERR. */
static int parse_fail(const char *text, const char *name, char *err, size_t size)
{
    dlt_cfg *root = (dlt_cfg *)1;
    capture cap;
    capture_begin(&cap, 2);
    int st = dlt_pt_parse_string(text, name, &root);
    capture_end(&cap, err, size);
    if (root) { /* a failed parse must leave nothing behind */
        dlt_cfg_free(root);
        return 1;
    }
    return st;
}

static dlt_cfg *parse_ok(const char *text)
{
    dlt_cfg *root = NULL;
    int st = dlt_pt_parse_string(text, "t.prototxt", &root);
    if (st != 0)
        printf("# parse of <<%s>> failed: %d\n", text, st);
    return root;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ---- Caffe's reference files ---------------------------------------------- */

static void test_lenet_net(const char *path)
{
    static const char *const phases[] = { "TRAIN", "TEST", NULL };
    static const char *const pools[] = { "MAX", "AVE", "STOCHASTIC", NULL };
    dlt_cfg *root = NULL;
    const char *s = NULL;
    long n = 0;
    double f = 0;
    int e = -1;

    ASSERT_EQ(dlt_pt_parse_file(path, &root), 0, "lenet_train_test.prototxt parses");
    if (!root)
        return;
    ASSERT_EQ(dlt_cfg_count(root, "layer"), 11, "lenet has 11 layers");
    TEST_OK(dlt_cfg_string(root, "name", NULL, &s) == 0 && s && !strcmp(s, "LeNet"),
            "net name is LeNet");

    const dlt_cfg *data = dlt_cfg_nth(root, "layer", 0);
    TEST_OK(dlt_cfg_enum(dlt_cfg_get(data, "include"), "phase", phases, -1, &e) == 0 && e == 0,
            "first layer is in phase TRAIN");
    ASSERT_NEAR((dlt_cfg_float(dlt_cfg_get(data, "transform_param"), "scale", 0, &f), f),
                0.00390625, 0, "transform_param.scale is 1/256");
    TEST_OK(dlt_cfg_count(data, "top") == 2 &&
                dlt_cfg_node_string(dlt_cfg_nth(data, "top", 1), &s) == 0 && !strcmp(s, "label"),
            "data layer's second top is 'label'");

    const dlt_cfg *conv1 = dlt_cfg_nth(root, "layer", 2);
    TEST_OK(dlt_cfg_string(conv1, "name", NULL, &s) == 0 && s && !strcmp(s, "conv1") &&
                dlt_cfg_string(conv1, "type", NULL, &s) == 0 && !strcmp(s, "Convolution"),
            "third layer is conv1 of type Convolution");
    const dlt_cfg *cp = dlt_cfg_get(conv1, "convolution_param");
    ASSERT_EQ((dlt_cfg_int(cp, "num_output", 0, &n), n), 20,
              "conv1 convolution_param.num_output");
    TEST_OK(dlt_cfg_string(dlt_cfg_get(cp, "weight_filler"), "type", NULL, &s) == 0 && s &&
                !strcmp(s, "xavier"),
            "conv1 weight_filler.type is xavier");
    ASSERT_NEAR((dlt_cfg_node_float(dlt_cfg_get(dlt_cfg_nth(conv1, "param", 1), "lr_mult"), &f), f),
                2.0, 0, "conv1's second param has lr_mult 2");
    TEST_OK(dlt_cfg_enum(dlt_cfg_get(dlt_cfg_nth(root, "layer", 3), "pooling_param"), "pool",
                        pools, -1, &e) == 0 && e == 0,
            "pool1 uses MAX pooling");
    TEST_OK(dlt_cfg_count(conv1, "nonexistent") == 0 && dlt_cfg_get(conv1, "nonexistent") == NULL,
            "absent field: count 0, get NULL");

    /* Only a few fields were read: the rest must show up as unknown. */
    capture cap;
    char out[16384];
    capture_begin(&cap, 2);
    int errs = dlt_cfg_check_unused(root, NULL);
    capture_end(&cap, out, sizeof out);
    TEST_OK(errs > 0 && contains(out, "unknown field 'bias_filler' in 'convolution_param'"),
            "unread lenet fields are reported (%d)", errs);
    dlt_cfg_mark_used(root);
    ASSERT_EQ(dlt_cfg_check_unused(root, NULL), 0, "after dlt_cfg_mark_used nothing is unknown");
    dlt_cfg_free(root);
}

static void test_lenet_solver(const char *path)
{
    static const char *const ignorable[] = { "solver_mode", NULL };
    dlt_cfg *root = NULL;
    const char *s = NULL;
    double f = 0;
    long n = 0;

    ASSERT_EQ(dlt_pt_parse_file(path, &root), 0, "lenet_solver.prototxt parses");
    if (!root)
        return;
    ASSERT_NEAR((dlt_cfg_float(root, "base_lr", 0, &f), f), 0.01, 1e-15, "base_lr");
    TEST_OK(dlt_cfg_string(root, "lr_policy", NULL, &s) == 0 && s && !strcmp(s, "inv"),
            "lr_policy is \"inv\"");
    ASSERT_EQ((dlt_cfg_int(root, "max_iter", 0, &n), n), 10000, "max_iter");

    static const char *const read[] = { "net", "test_iter", "test_interval", "momentum",
                                        "weight_decay", "gamma", "power", "display",
                                        "snapshot", "snapshot_prefix", NULL };
    for (int i = 0; read[i]; i++)
        dlt_cfg_get(root, read[i]);
    capture co, ce;
    char out[4096], err[4096];
    capture_begin(&co, 1);
    capture_begin(&ce, 2);
    int errs = dlt_cfg_check_unused(root, ignorable);
    capture_end(&co, out, sizeof out); /* stdout first: capture_end echoes there */
    capture_end(&ce, err, sizeof err);
    TEST_OK(errs == 0 && err[0] == '\0', "ignorable solver_mode is not an error");
    TEST_OK(contains(out, "solver_mode") && contains(out, "lenet_solver.prototxt:"),
            "ignorable solver_mode is noted with its location");
    dlt_cfg_free(root);
}

/* ---- text format ------------------------------------------------------------ */

static void test_strings(void)
{
    const char *s = NULL;
    dlt_cfg *r = parse_ok("a: \"t\\tn\\n q\\\" b\\\\ s\\'\"\n"
                            "b: 'it\\'s \"x\"'\n"
                            "c: \"foo\" 'bar'  # comment between\n   \"baz\"\n"
                            "d: \"\\101\\x42\\103\"\n"
                            "e: \"\"");
    TEST_OK(r != NULL, "strings parse");
    if (!r)
        return;
    TEST_OK(dlt_cfg_string(r, "a", NULL, &s) == 0 && !strcmp(s, "t\tn\n q\" b\\ s'"),
            "C escapes are decoded");
    TEST_OK(dlt_cfg_string(r, "b", NULL, &s) == 0 && !strcmp(s, "it's \"x\""),
            "single-quoted string");
    TEST_OK(dlt_cfg_string(r, "c", NULL, &s) == 0 && !strcmp(s, "foobarbaz"),
            "adjacent literals are joined across lines and comments");
    TEST_OK(dlt_cfg_string(r, "d", NULL, &s) == 0 && !strcmp(s, "ABC"), "octal and hex escapes");
    TEST_OK(dlt_cfg_string(r, "e", NULL, &s) == 0 && !strcmp(s, ""), "empty string");
    dlt_cfg_free(r);
}

static void test_syntax(void)
{
    long n = 0;
    double f = 0;
    const char *s = NULL;
    char where[256];
    dlt_cfg *r = parse_ok("# leading comment\n"
                            "  a: 1 # trailing\n"
                            "b: \"x#y\" m: { x: 5 }; n < y: 6 >, neg: -3 pos: +4\n"
                            "exp: 1e-4 half: .5 suf: 2.5f hex: 0x10 minf: -inf\n"
                            "v: 1 v: 2\nv: 3 l: [4, 5 ,6] empty: [] k: MAX");
    TEST_OK(r != NULL, "comments, separators, ':{' and '<>' forms parse");
    if (!r)
        return;
    ASSERT_EQ((dlt_cfg_int(r, "a", 0, &n), n), 1, "field after comment");
    TEST_OK(dlt_cfg_string(r, "b", NULL, &s) == 0 && !strcmp(s, "x#y"), "'#' inside a string");
    ASSERT_EQ((dlt_cfg_int(dlt_cfg_get(r, "m"), "x", 0, &n), n), 5, "'name: { }' message");
    ASSERT_EQ((dlt_cfg_int(dlt_cfg_get(r, "n"), "y", 0, &n), n), 6, "'name < >' message");
    TEST_OK(dlt_cfg_int(r, "neg", 0, &n) == 0 && n == -3 && dlt_cfg_int(r, "pos", 0, &n) == 0 &&
                n == 4,
            "signed integers");
    ASSERT_NEAR((dlt_cfg_float(r, "exp", 0, &f), f), 1e-4, 1e-18, "exponent");
    ASSERT_NEAR((dlt_cfg_float(r, "half", 0, &f), f), 0.5, 0, "leading '.'");
    ASSERT_NEAR((dlt_cfg_float(r, "suf", 0, &f), f), 2.5, 0, "'f' suffix");
    ASSERT_EQ((dlt_cfg_int(r, "hex", 0, &n), n), 16, "hex integer");
    TEST_OK(dlt_cfg_float(r, "minf", 0, &f) == 0 && f < -1e308, "-inf");
    ASSERT_NEAR((dlt_cfg_float(r, "a", 0, &f), f), 1.0, 0, "float getter accepts an integer");

    ASSERT_EQ(dlt_cfg_count(r, "v"), 3, "repeated field counted");
    ASSERT_EQ((dlt_cfg_node_int(dlt_cfg_nth(r, "v", 1), &n), n), 2, "nth occurrence in order");
    ASSERT_EQ((dlt_cfg_int(r, "v", 0, &n), n), 3, "last repeated scalar wins");
    TEST_OK(dlt_cfg_count(r, "l") == 3 && dlt_cfg_node_int(dlt_cfg_nth(r, "l", 2), &n) == 0 &&
                n == 6 && dlt_cfg_count(r, "empty") == 0,
            "list syntax [4, 5, 6] expands to repeated fields");
    ASSERT_EQ((dlt_cfg_int(r, "absent", 7, &n), n), 7, "absent field gives the default");

    dlt_cfg_where(dlt_cfg_get(r, "a"), where, sizeof where);
    TEST_OK(!strcmp(where, "t.prototxt:2:3"), "location of a field is its name: %s", where);
    dlt_cfg_free(r);

    r = parse_ok("");
    TEST_OK(r && r->kind == DLT_CFG_MESSAGE && r->child == NULL, "empty input is an empty message");
    dlt_cfg_free(r);
    r = parse_ok("# only a comment, no newline");
    TEST_OK(r && r->child == NULL, "comment-only input without final newline");
    dlt_cfg_free(r);
}

/* Integers beyond int (Caffe's int32/uint32 fields land in int) are refused
 * where the file says them; they used to be wrapped by a cast later
 * (num_output: 4294967316 trained a 20-output layer). int64 fields
 * (random_seed) take 64 bits. */
static void test_int_range(void)
{
    char err[4096];
    capture cap;
    long n = 0;
    dlt_cfg *r = parse_ok("num_output: 4294967316\nmin: -2147483648 max: 2147483647\n"
                          "over: 2147483648 under: -2147483649 random_seed: 4294967316\n"
                          "huge: 99999999999999999999");
    if (!r) {
        TEST_OK(0, "int range input parses");
        return;
    }
    capture_begin(&cap, 2);
    int st = dlt_cfg_int(r, "num_output", 7, &n);
    capture_end(&cap, err, sizeof err);
    TEST_OK(st == DLT_ERR_PARSE && n == 7 &&
                contains(err, "t.prototxt:1:1: error: value 4294967316 of field 'num_output' is out "
                              "of range for a 32-bit integer (-2147483648 to 2147483647)"),
            "num_output 4294967316 refused naming line, field, value and range (not wrapped to 20)");
    TEST_OK(dlt_cfg_int(r, "min", 0, &n) == 0 && n == INT_MIN && dlt_cfg_int(r, "max", 0, &n) == 0 &&
                n == INT_MAX,
            "INT_MIN and INT_MAX accepted");
    capture_begin(&cap, 2);
    int a = dlt_cfg_int(r, "over", 0, &n), b = dlt_cfg_int(r, "under", 0, &n);
    int c = dlt_cfg_int(r, "huge", 0, &n);
    capture_end(&cap, err, sizeof err);
    TEST_OK(a == DLT_ERR_PARSE && b == DLT_ERR_PARSE && c == DLT_ERR_PARSE &&
                contains(err, "2147483648 of field 'over'") &&
                contains(err, "-2147483649 of field 'under'") &&
                contains(err, "99999999999999999999 of field 'huge'"),
            "2^31, -2^31-1 and a 20-digit value refused");
    TEST_OK(dlt_cfg_int64(r, "random_seed", -1, &n) == 0 && n == 4294967316L,
            "an int64 field (random_seed) takes 4294967316");
    dlt_cfg_free(r);
}

static void test_getters(void)
{
    static const char *const pools[] = { "MAX", "AVE", "STOCHASTIC", NULL };
    char err[4096];
    capture cap;
    int b = -1, e = -1;
    long n = 0;
    const char *s = NULL;
    dlt_cfg *r = parse_ok("t: true f: False one: 1 zero: 0 two: 2\n"
                            "p: AVE q: \"STOCHASTIC\" bad: MAXX\n"
                            "num_output: \"abc\"\n"
                            "  frac: 2.5 id: abc msg { }\n"
                            "type: Convolution");
    if (!r) {
        TEST_OK(0, "getter input parses");
        return;
    }
    TEST_OK(dlt_cfg_bool(r, "t", 0, &b) == 0 && b == 1 && dlt_cfg_bool(r, "f", 1, &b) == 0 &&
                b == 0,
            "bool true / False");
    TEST_OK(dlt_cfg_bool(r, "one", 0, &b) == 0 && b == 1 && dlt_cfg_bool(r, "zero", 1, &b) == 0 &&
                b == 0,
            "bool 1 / 0");
    ASSERT_EQ((dlt_cfg_enum(r, "p", pools, -1, &e), e), 1, "enum AVE");
    ASSERT_EQ((dlt_cfg_enum(r, "q", pools, -1, &e), e), 2, "enum given as a string is tolerated");

    capture_begin(&cap, 2);
    int st = dlt_cfg_enum(r, "bad", pools, -1, &e);
    capture_end(&cap, err, sizeof err);
    TEST_OK(st == DLT_ERR_PARSE &&
                contains(err, "t.prototxt:2:24: error: bad value 'MAXX' for field 'bad' "
                              "(expected one of: MAX, AVE, STOCHASTIC)"),
            "bad enum names the value, location and choices");

    capture_begin(&cap, 2);
    st = dlt_cfg_int(r, "num_output", 0, &n);
    capture_end(&cap, err, sizeof err);
    TEST_OK(st == DLT_ERR_PARSE && n == 0 &&
                contains(err, "t.prototxt:3:1: error: field 'num_output' expects an integer, "
                              "got \"abc\""),
            "string for an integer is rejected");

    capture_begin(&cap, 2);
    st = dlt_cfg_int(r, "frac", 0, &n);
    capture_end(&cap, err, sizeof err);
    TEST_OK(st == DLT_ERR_PARSE && contains(err, "t.prototxt:4:3:") && contains(err, "got 2.5"),
            "float for an integer is rejected");

    capture_begin(&cap, 2);
    int st2 = dlt_cfg_int(r, "id", 0, &n);
    int st3 = dlt_cfg_int(r, "msg", 0, &n);
    int st4 = dlt_cfg_bool(r, "two", 0, &b);
    int st5 = dlt_cfg_string(r, "type", NULL, &s);
    int st6 = dlt_cfg_float(r, "num_output", 0, &(double){ 0 });
    capture_end(&cap, err, sizeof err);
    TEST_OK(st2 == DLT_ERR_PARSE && st3 == DLT_ERR_PARSE && contains(err, "got a message"),
            "identifier or message for an integer is rejected");
    ASSERT_EQ(st4, DLT_ERR_PARSE, "bool 2 is rejected");
    TEST_OK(st5 == DLT_ERR_PARSE && contains(err, "expects a quoted string, got Convolution"),
            "unquoted identifier for a string is rejected");
    ASSERT_EQ(st6, DLT_ERR_PARSE, "string for a float is rejected");
    dlt_cfg_free(r);
}

static void test_unknown_fields(void)
{
    static const char *const ignorable[] = { "solver_type", "debug_info", NULL };
    char out[4096], err[4096];
    capture co, ce;
    const char *s;
    dlt_cfg *r = parse_ok("layer { name: \"x\" bogus: 1 }\n"
                            "top_bogus: 2\n"
                            "solver_type: SGD\n"
                            "unused_msg { a: 1 b { c: 2 } }\n"
                            "debug_info { x: 1 }\n");
    if (!r) {
        TEST_OK(0, "unknown-field input parses");
        return;
    }
    dlt_cfg_string(dlt_cfg_get(r, "layer"), "name", NULL, &s);
    capture_begin(&co, 1);
    capture_begin(&ce, 2);
    int errs = dlt_cfg_check_unused(r, ignorable);
    capture_end(&co, out, sizeof out); /* stdout first: capture_end echoes there */
    capture_end(&ce, err, sizeof err);
    ASSERT_EQ(errs, 3, "unknown fields counted, an unused message once, ignorables not");
    TEST_OK(contains(err, "t.prototxt:1:19: error: unknown field 'bogus' in 'layer'"),
            "unknown field inside a used message is found");
    TEST_OK(contains(err, "t.prototxt:2:1: error: unknown field 'top_bogus'"),
            "unknown top-level field");
    TEST_OK(contains(err, "unknown field 'unused_msg'") && !contains(err, "'c'"),
            "unused message reported itself, not its children");
    TEST_OK(contains(out, "solver_type") && contains(out, "debug_info") &&
                !contains(err, "solver_type") && !contains(err, "debug_info"),
            "ignorable fields are noted, not errors");
    dlt_cfg_free(r);
}

/* ---- malformed input ------------------------------------------------------- */

/* "m{m{...}}" nested DEPTH levels. */
static char *nested(size_t depth)
{
    char *s = malloc(3 * depth + 1);
    for (size_t i = 0; i < depth; i++)
        memcpy(s + 2 * i, "m{", 2);
    memset(s + 2 * depth, '}', depth);
    s[3 * depth] = '\0';
    return s;
}

static void test_malformed(void)
{
    char err[4096];
    struct {
        const char *text, *expect, *what;
    } cases[] = {
        { "layer {\n  name: \"x\"\n",
          "bad.prototxt:3:1: error: unterminated message 'layer' (opened at 1:1)",
          "unterminated message" },
        { "a: 1\nname: \"abc\nb: 2\n", "bad.prototxt:2:7: error: unterminated string",
          "unterminated string" },
        { "layer {\n  num_output:\n}\n",
          "bad.prototxt:2:3: error: missing value for field 'num_output'", "missing value" },
        { "a:\nb: 1\n", "bad.prototxt:1:1: error: missing value for field 'a'",
          "missing value before the next field" },
        { "a: 1\n}\n", "bad.prototxt:2:1: error: unexpected '}'", "unexpected '}'" },
        { "a: 1\nfoo 5\n",
          "bad.prototxt:2:5: error: expected ':' or '{' after field name 'foo'",
          "missing ':'" },
        { "a: \"\\q\"", "bad.prototxt:1:5: error: unknown escape sequence '\\q'", "bad escape" },
        { "a: 1.2.3", "bad.prototxt:1:4: error: malformed number '1.2.3'", "malformed number" },
        { "a { b: 1 >", "bad.prototxt:1:10: error: expected '}' to close message 'a'",
          "mismatched brackets" },
        { "a: [1, 2", "bad.prototxt:1:9: error: expected ',' or ']'", "unterminated list" },
        { "a: \"x\\0y\"", "string contains a NUL character", "escaped NUL in a string" },
        { "3: 4", "bad.prototxt:1:1: error: expected a field name, got '3'", "numeric field name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = parse_fail(cases[i].text, "bad.prototxt", err, sizeof err);
        TEST_OK(st == DLT_ERR_PARSE && contains(err, cases[i].expect), "%s is a parse error",
                cases[i].what);
    }

    /* Deep nesting must fail cleanly rather than overflow the stack. */
    char *deep = nested(5000);
    int st = parse_fail(deep, "deep.prototxt", err, sizeof err);
    TEST_OK(st == DLT_ERR_PARSE && contains(err, "nested deeper than"), "5000-deep nesting");
    free(deep);
    deep = nested(50);
    dlt_cfg *r = parse_ok(deep);
    TEST_OK(r != NULL, "50-deep nesting is fine");
    dlt_cfg_free(r);
    free(deep);
}

static void test_files(void)
{
    char err[4096], path[] = "/tmp/test_prototxt_XXXXXX";
    dlt_cfg *r = (dlt_cfg *)1;
    capture cap;

    capture_begin(&cap, 2);
    int st = dlt_pt_parse_file("/nonexistent/x.prototxt", &r);
    capture_end(&cap, err, sizeof err);
    TEST_OK(st == DLT_ERR_IO && r == NULL &&
                contains(err, "dltrain: error: cannot open prototxt '/nonexistent/x.prototxt': "
                              "No such file or directory"),
            "missing file is an I/O error naming the path");

    int fd = mkstemp(path);
    static const char bin[] = "a: 1\nb: \"x\0y\"\n";
    if (fd < 0 || write(fd, bin, sizeof bin - 1) != (ssize_t)(sizeof bin - 1)) {
        TEST_OK(0, "write temp file");
        return;
    }
    close(fd);
    capture_begin(&cap, 2);
    st = dlt_pt_parse_file(path, &r);
    capture_end(&cap, err, sizeof err);
    char expect[256];
    snprintf(expect, sizeof expect, "%s:2:6: error: NUL byte", path);
    TEST_OK(st == DLT_ERR_PARSE && r == NULL && contains(err, expect), "NUL byte in a file");

    /* A large file: 200k fields, read with fopen and parsed in one pass. */
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200000; i++)
        fprintf(f, "layer { name: \"l%d\" }\n", i);
    fclose(f);
    st = dlt_pt_parse_file(path, &r);
    const char *s = NULL;
    TEST_OK(st == 0 && dlt_cfg_count(r, "layer") == 200000 &&
                dlt_cfg_string(dlt_cfg_nth(r, "layer", 199999), "name", NULL, &s) == 0 &&
                !strcmp(s, "l199999"),
            "200000-layer file parses");
    dlt_cfg_free(r);
    unlink(path);
}

int main(void)
{
    /* Caffe's files live outside the repository: SHARED_DIR (as tests/lib.sh),
     * else ../shared next to the source tree. */
    const char *top = getenv("top_srcdir"), *shared = getenv("SHARED_DIR");
    char net[4096], solver[4096];
    if (shared && *shared) {
        snprintf(net, sizeof net, "%s/data/caffe/lenet_train_test.prototxt", shared);
        snprintf(solver, sizeof solver, "%s/data/caffe/lenet_solver.prototxt", shared);
    } else {
        snprintf(net, sizeof net, "%s/../shared/data/caffe/lenet_train_test.prototxt",
                 top ? top : ".");
        snprintf(solver, sizeof solver, "%s/../shared/data/caffe/lenet_solver.prototxt",
                 top ? top : ".");
    }
    if (access(net, R_OK) == 0 && access(solver, R_OK) == 0) {
        test_lenet_net(net);
        test_lenet_solver(solver);
    } else {
        TEST_SKIP("Caffe's LeNet net and solver: %s not present (../shared is absent; "
                  "SHARED_DIR names it elsewhere)", net);
    }
    test_strings();
    test_syntax();
    test_getters();
    test_int_range();
    test_unknown_fields();
    test_malformed();
    test_files();
    TEST_DONE();
}
