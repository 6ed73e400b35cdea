/* json.h - a tiny JSON reader for our own JSON-lines files (metrics.jsonl,
 * system.jsonl): objects, arrays, strings, numbers, true/false/null. */
#ifndef DLTRAIN_MONITOR_JSON_H
#define DLTRAIN_MONITOR_JSON_H

typedef enum { DLT__J_NULL, DLT__J_BOOL, DLT__J_NUM, DLT__J_STR, DLT__J_ARR, DLT__J_OBJ } dlt__jtype;

typedef struct dlt__json {
    dlt__jtype type;
    double num;               /* NUM, BOOL (0/1) */
    char *str;                /* STR */
    int n;                    /* ARR, OBJ: number of items */
    char **keys;              /* OBJ: n keys */
    struct dlt__json *items;  /* ARR, OBJ: n values */
} dlt__json;

/* Parse one complete JSON value (trailing white space allowed); NULL when
 * the text is not valid JSON, e.g. a line still being written. */
dlt__json *dlt__json_parse(const char *text);
void dlt__json_free(dlt__json *v);
/* Member KEY of an object, or NULL. */
const dlt__json *dlt__json_get(const dlt__json *obj, const char *key);
/* Number member, NAN when absent, null or not a number. */
double dlt__json_num(const dlt__json *obj, const char *key);
/* String member, or NULL. */
const char *dlt__json_str(const dlt__json *obj, const char *key);

#endif
