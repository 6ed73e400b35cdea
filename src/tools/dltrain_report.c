/* dltrain-report - turn a run directory into RUN_DIR/report.html (charts
 * and a summary, self-contained: inline SVG, no scripts, no network),
 * compare several runs on one page, or serve runs live over HTTP. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "dltrain/error.h"
#include "dltrain/report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dltrain-report [-o OUT.html] RUN_DIR\n"
               "       dltrain-report [-o OUT.html] RUN_DIR RUN_DIR...   (comparison page)\n"
               "       dltrain-report --serve [--port N] [--bind ADDR] DIR...\n"
               "\n"
               "  -o, --output FILE  where to write (default: RUN_DIR/report.html; with several\n"
               "                     runs: compare.html in the current directory)\n"
               "  --serve            serve an index of the runs in DIR... (run directories, or\n"
               "                     directories holding them), a live page per run and\n"
               "                     comparisons, until Ctrl-C; watch from a laptop with\n"
               "                     ssh -L 8080:localhost:8080 LOGIN-NODE\n"
               "  -p, --port N       port to listen on (default 8080; 0: any free port, printed)\n"
               "  --bind ADDR        address to listen on (default 127.0.0.1: this host only;\n"
               "                     0.0.0.0 opens it to the network, without authentication)\n"
               "  --poll SECONDS     how often a served run page fetches new data (default 2)\n"
               "  --help, --version\n"
               "\n"
               "Reads metrics.jsonl, system.jsonl (optional), log.txt, config/ and checkpoints/;\n"
               "works on a run still in progress (dltrain-mpi also rewrites RUN_DIR/report.html\n"
               "at each test and at the end). Exit status: 0 written (or server stopped),\n"
               "1 error, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    enum { OPT_SERVE = 256, OPT_BIND, OPT_POLL };
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                              {"serve", no_argument, 0, OPT_SERVE},
                                              {"port", required_argument, 0, 'p'},
                                              {"bind", required_argument, 0, OPT_BIND},
                                              {"poll", required_argument, 0, OPT_POLL},
                                              {"help", no_argument, 0, 'h'},
                                              {"version", no_argument, 0, 'V'},
                                              {0, 0, 0, 0}};
    const char *out = NULL;
    dlt_report_serve_options so = {NULL, 0, NULL, 8080, 2};
    int c, serve = 0;
    char *end;
    while ((c = getopt_long(argc, argv, "o:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_SERVE: serve = 1; break;
        case 'p':
            so.port = (int)strtol(optarg, &end, 10);
            if (*end || so.port < 0 || so.port > 65535) {
                fprintf(stderr, "dltrain-report: --port '%s': expected 0..65535\n", optarg);
                return DLT_EXIT_USAGE;
            }
            break;
        case OPT_BIND: so.bind = optarg; break;
        case OPT_POLL:
            so.poll_s = strtod(optarg, &end);
            if (*end || !(so.poll_s >= 0.1)) {
                fprintf(stderr, "dltrain-report: --poll '%s': expected seconds >= 0.1\n", optarg);
                return DLT_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-report %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    int nruns = argc - optind;
    if (nruns < 1 || (serve && out)) {
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    const char *const *runs = (const char *const *)argv + optind;
    if (serve) {
        so.roots = runs;
        so.nroots = nruns;
        return dlt_report_serve(&so) < 0 ? DLT_EXIT_FAILURE : DLT_EXIT_OK;
    }
    if (nruns > 1) {
        const char *path = out ? out : "compare.html";
        if (dlt_report_compare(runs, nruns, path) < 0)
            return DLT_EXIT_FAILURE;
        printf("%s\n", path);
        return DLT_EXIT_OK;
    }
    if (dlt_report_write(runs[0], out) < 0)
        return DLT_EXIT_FAILURE;
    printf("%s\n", out ? out : "report written");
    return DLT_EXIT_OK;
}
