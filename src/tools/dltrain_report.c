/* dltrain-report - turn a run directory into RUN_DIR/report.html: charts
 * and a summary, self-contained (inline SVG, no scripts, no network). */
#include <getopt.h>
#include <stdio.h>

#include "config.h"
#include "dltrain/error.h"
#include "dltrain/report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dltrain-report [-o OUT.html] RUN_DIR\n"
               "\n"
               "  -o, --output FILE  where to write (default: RUN_DIR/report.html)\n"
               "  --help, --version\n"
               "\n"
               "Reads metrics.jsonl, system.jsonl (optional), log.txt, config/ and checkpoints/;\n"
               "works on a run still in progress. Exit status: 0 written, 1 error, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                              {"help", no_argument, 0, 'h'},
                                              {"version", no_argument, 0, 'V'},
                                              {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-report %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    if (dlt_report_write(argv[optind], out) < 0)
        return DLT_EXIT_FAILURE;
    printf("%s\n", out ? out : "report written");
    return DLT_EXIT_OK;
}
