/* report_serve.c - dltrain-report --serve: libmicrohttpd on 127.0.0.1 (for
 * ssh -L from a laptop) serving an index of the runs under the given
 * directories, each run's page (the report's markup, refreshed in place
 * from a JSON endpoint), and comparisons. A request never names a file:
 * it names a run found by scanning the given directories, and a run whose
 * files resolve outside its directory (symlinks out) is not served. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "dltrain/error.h"
#include "dltrain/report.h"
#include "monitor/report_data.h"
#include "monitor/report_page.h"

enum { MAX_RUNS = 512, MAX_COMPARE = 16 };

typedef struct served_run {
    char name[512];      /* ROOT's last component, then the run's directory name */
    char dir[PATH_MAX];  /* resolved path of the run directory */
} served_run;

typedef struct server {
    const dlt_report_serve_options *o;
    served_run *runs;    /* rescanned per request: new runs appear */
    int nruns;
} server;

/* Is the resolved PATH ROOT itself or below it? */
static int inside(const char *root, const char *path)
{
    size_t n = strlen(root);
    return strncmp(root, path, n) == 0 && (path[n] == '\0' || path[n] == '/' || strcmp(root, "/") == 0);
}

/* The files the report reads must all resolve inside ROOT. */
static int run_files_inside(const char *root, const char *dir)
{
    static const char *files[] = {"metrics.jsonl", "system.jsonl", "log.txt", "lock", "config",
                                  "config/solver.prototxt", "config/net.prototxt",
                                  "config/command.txt", "checkpoints"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[PATH_MAX + 64], real[PATH_MAX];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (lstat(path, &sb) != 0)
            continue;
        if (!realpath(path, real) || !inside(root, real))
            return 0;
    }
    return 1;
}

static void add_run(server *s, const char *root, const char *path, const char *name)
{
    char real[PATH_MAX], metrics[PATH_MAX + 32];
    struct stat sb;
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", path);
    if (s->nruns >= MAX_RUNS || stat(metrics, &sb) != 0 || !realpath(path, real))
        return;
    if (!inside(root, real) || !run_files_inside(root, real)) {
        fprintf(stderr, "dltrain-report: not serving '%s': it resolves outside '%s'\n", path, root);
        return;
    }
    served_run *r = &s->runs[s->nruns++];
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->dir, sizeof r->dir, "%s", real);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const served_run *)a)->name, ((const served_run *)b)->name);
}

/* Each root is a run directory, or a directory of run directories. */
static void scan(server *s)
{
    s->nruns = 0;
    for (int i = 0; i < s->o->nroots; i++) {
        char root[PATH_MAX], metrics[PATH_MAX + 32];
        if (!realpath(s->o->roots[i], root))
            continue;
        const char *base = strrchr(root, '/');
        base = base && base[1] ? base + 1 : root;
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", root);
        if (access(metrics, F_OK) == 0) {
            add_run(s, root, root, base);
            continue;
        }
        DIR *dp = opendir(root);
        if (!dp)
            continue;
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[PATH_MAX + 300], name[600];
            snprintf(path, sizeof path, "%s/%s", root, e->d_name);
            snprintf(name, sizeof name, "%.255s/%.255s", base, e->d_name);
            add_run(s, root, path, name);
        }
        closedir(dp);
    }
    qsort(s->runs, (size_t)s->nruns, sizeof *s->runs, by_name);
}

static const served_run *find_run(const server *s, const char *name)
{
    for (int i = 0; i < s->nruns; i++)
        if (strcmp(s->runs[i].name, name) == 0)
            return &s->runs[i];
    return NULL;
}

/* A run name in a URL: unreserved characters and '/' as they are. */
static void url_part(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/", c))
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == '<') /* '<': no "</script>" even if embedded */
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, "\"%s\":%.15g,", key, v);
    else
        fprintf(f, "\"%s\":null,", key);
}

static void start_text(double t, char *buf, size_t size)
{
    if (!isfinite(t)) {
        snprintf(buf, size, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", localtime_r(&tt, &tm));
}

static void index_page(FILE *f, const server *s)
{
    dlt__report_head(f, "dltrain runs", DLT_REPORT_REFRESH_S);
    fputs("<h1>dltrain runs</h1>\n<p class=\"note\">This index reloads itself every ", f);
    fprintf(f, "%d s. Tick two or more runs to compare them.</p>\n", DLT_REPORT_REFRESH_S);
    fputs("<form action=\"/compare\" method=\"get\">\n<table class=\"summary\" id=\"runs\">\n"
          "<tr><th></th><th>run</th><th>state</th><th>iteration</th><th>best top-1</th>"
          "<th>images/s</th><th>started</th></tr>\n", f);
    for (int i = 0; i < s->nruns; i++) {
        dlt__run_data d;
        const served_run *r = &s->runs[i];
        fputs("<tr><td><input type=\"checkbox\" name=\"run\" value=\"", f);
        dlt__html(f, r->name);
        fputs("\"></td><td><a href=\"/run/", f);
        url_part(f, r->name);
        fputs("/\">", f);
        dlt__html(f, r->name);
        fputs("</a></td>", f);
        if (dlt__report_read(r->dir, &d) < 0) {
            fputs("<td colspan=\"5\">unreadable</td></tr>\n", f);
            continue;
        }
        long it;
        double ep, top1, ips;
        char when[64];
        dlt__report_figures(&d, &it, &ep, &top1, &ips);
        start_text(d.start_time, when, sizeof when);
        fprintf(f, "<td class=\"state-%s\">%s</td><td>%ld</td>", dlt__run_state_name(d.state),
                dlt__run_state_name(d.state), it);
        fprintf(f, isfinite(top1) ? "<td>%.4f</td>" : "<td>-</td>", top1);
        fprintf(f, isfinite(ips) ? "<td>%.1f</td>" : "<td>-</td>", ips);
        fprintf(f, "<td>%s</td></tr>\n", when);
        dlt__report_data_free(&d);
    }
    fputs("</table>\n<p><input type=\"submit\" value=\"Compare\"></p>\n</form>\n", f);
    if (!s->nruns)
        fputs("<p class=\"note\">No run directories (with a metrics.jsonl) found yet.</p>\n", f);
    fputs("</body></html>\n", f);
}

/* The run page's script: fetch the JSON, replace the report in place,
 * stop once the run is no longer running. */
static const char *script_fmt =
    "(function(){var n=0,u=\"%s\",p=%d;"
    "var g=document.getElementById(\"generated\");"
    "function poll(){fetch(u,{cache:\"no-store\"}).then(function(r){return r.json();})"
    ".then(function(j){document.getElementById(\"report\").innerHTML=j.html;n++;"
    "g.setAttribute(\"data-polls\",n);g.setAttribute(\"data-state\",j.state);"
    "g.textContent=\"updated \"+new Date().toLocaleTimeString()+\" (iteration \"+j.iter+\"): \"+"
    "(j.state==\"running\"?\"live, every \"+p/1000+\" s\":\"the run has \"+j.state+\", updates stopped\");"
    "if(j.state==\"running\")setTimeout(poll,p);})"
    ".catch(function(){setTimeout(poll,2*p);});}"
    "poll();})();";

static int run_page(FILE *f, const server *s, const served_run *r)
{
    dlt__run_data d;
    if (dlt__report_read(r->dir, &d) < 0)
        return -1;
    char *url = NULL, *script = NULL;
    size_t n;
    FILE *u = open_memstream(&url, &n);
    fputs("/run/", u);
    url_part(u, r->name);
    fputs("/data.json", u);
    fclose(u);
    int poll_ms = (int)((s->o->poll_s > 0 ? s->o->poll_s : 2) * 1000);
    u = open_memstream(&script, &n);
    fprintf(u, script_fmt, url, poll_ms);
    fclose(u);
    int st = dlt__report_page(f, r->name, &d, 0, script);
    free(url);
    free(script);
    dlt__report_data_free(&d);
    return st;
}

static int run_json(FILE *f, const served_run *r)
{
    dlt__run_data d;
    if (dlt__report_read(r->dir, &d) < 0)
        return -1;
    long it;
    double ep, top1, ips;
    dlt__report_figures(&d, &it, &ep, &top1, &ips);
    char *body = NULL;
    size_t n;
    FILE *b = open_memstream(&body, &n);
    dlt__report_body(b, r->name, &d);
    fclose(b);
    fputs("{\"name\":", f);
    json_str(f, r->name);
    fprintf(f, ",\"state\":\"%s\",\"iter\":%ld,", dlt__run_state_name(d.state), it);
    json_num(f, "epoch", ep);
    json_num(f, "best_top1", top1);
    json_num(f, "images_per_s", ips);
    json_num(f, "start_time", d.start_time);
    fprintf(f, "\"train_points\":%d,\"test_points\":%d,\"bad_lines\":%d,\"html\":", d.iter.n,
            d.test_iter.n, d.bad_lines);
    json_str(f, body);
    fputs("}\n", f);
    free(body);
    dlt__report_data_free(&d);
    return 0;
}

typedef struct picked {
    const server *s;
    const served_run *runs[MAX_COMPARE];
    int n, unknown;
} picked;

static enum MHD_Result pick(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    picked *p = cls;
    if (strcmp(key, "run") != 0 || !value)
        return MHD_YES;
    const served_run *r = find_run(p->s, value);
    if (!r)
        p->unknown++;
    else if (p->n < MAX_COMPARE)
        p->runs[p->n++] = r;
    return MHD_YES;
}

static int compare_page(FILE *f, const picked *p)
{
    dlt__run_data d[MAX_COMPARE] = {0};
    const char *labels[MAX_COMPARE] = {0};
    int ok = 0, st = 0;
    for (; ok < p->n && st == 0; ok++) {
        st = dlt__report_read(p->runs[ok]->dir, &d[ok]);
        labels[ok] = p->runs[ok]->name;
    }
    if (st == 0)
        st = dlt__report_compare_page(f, labels, d, p->n);
    for (int i = 0; i < ok; i++)
        dlt__report_data_free(&d[i]);
    return st;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                             size_t n)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", dlt_strdup(msg), strlen(msg));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    server *s = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    /* URL is decoded (%2e%2e is ".." here); runs are looked up by name,
     * so ".." could not reach a file anyway: refuse it outright. */
    if (strstr(url, "..") || url[0] != '/' || strstr(url, "//"))
        return text(c, MHD_HTTP_FORBIDDEN, "refused: the path leaves the served run directories\n");
    scan(s);
    char *body = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&body, &n);
    const char *type = "text/html; charset=utf-8";
    unsigned status = MHD_HTTP_OK;
    int st = 0;
    size_t len = strlen(url);
    if (strcmp(url, "/") == 0) {
        index_page(f, s);
    } else if (strcmp(url, "/compare") == 0) {
        picked p = {s, {0}, 0, 0};
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, pick, &p);
        if (p.unknown || p.n < 1) {
            status = p.unknown ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST;
            fputs(p.unknown ? "no such run\n" : "name runs to compare: /compare?run=A&run=B\n", f);
            type = "text/plain; charset=utf-8";
        } else {
            st = compare_page(f, &p);
        }
    } else if (strncmp(url, "/run/", 5) == 0) {
        char name[600];
        int json = len > 15 && strcmp(url + len - 10, "/data.json") == 0;
        size_t end = json ? len - 10 : (url[len - 1] == '/' ? len - 1 : len);
        snprintf(name, sizeof name, "%.*s", (int)(end > 5 ? end - 5 : 0), url + 5);
        const served_run *r = find_run(s, name);
        if (!r) {
            status = MHD_HTTP_NOT_FOUND;
            type = "text/plain; charset=utf-8";
            fputs("no such run\n", f);
        } else if (json) {
            type = "application/json";
            st = run_json(f, r);
        } else {
            st = run_page(f, s, r);
        }
    } else {
        status = MHD_HTTP_NOT_FOUND;
        type = "text/plain; charset=utf-8";
        fputs("not found\n", f);
    }
    fclose(f);
    if (st < 0) {
        free(body);
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the run directory could not be read\n");
    }
    return reply(c, status, type, body, n);
}

int dlt_report_serve(const dlt_report_serve_options *o)
{
    const char *bind = o->bind ? o->bind : "127.0.0.1";
    if (o->port < 0 || o->port > 65535)
        DLT_FAIL(DLT_ERR_ARG, "--port %d: expected 0..65535", o->port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(bind, NULL, &hints, &ai);
    if (gai != 0)
        DLT_FAIL(DLT_ERR_ARG, "--bind %s: %s", bind, gai_strerror(gai));
    struct sockaddr_storage sa;
    memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (v6)
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)o->port);
    else
        ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)o->port);
    server s = {o, dlt_calloc(MAX_RUNS, sizeof(served_run)), 0};
    scan(&s); /* before the server's thread scans per request */
    /* The server's thread inherits the mask: only this thread takes signals. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0), (uint16_t)o->port,
        NULL, NULL, handle, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        free(s.runs);
        DLT_FAIL(DLT_ERR_IO, "cannot listen on %s port %d (in use? another --port, or 0 for any)",
                 bind, o->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("dltrain-report: serving %d run(s) at http://%s%s%s:%u/ (Ctrl-C stops)\n", s.nruns,
           v6 ? "[" : "", bind, v6 ? "]" : "", info ? info->port : (unsigned)o->port);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    free(s.runs);
    printf("dltrain-report: stopped by signal %d\n", sig);
    return 0;
}
