/* report.h - dltrain-report: a run directory as one self-contained HTML
 * page, kept current during training, several runs compared, and a small
 * HTTP server for watching runs live. */
#ifndef DLTRAIN_REPORT_H
#define DLTRAIN_REPORT_H

/* Seconds between reloads of a live RUN/report.html (meta refresh). */
#define DLT_REPORT_REFRESH_S 15

/* Read RUN_DIR's metrics.jsonl, system.jsonl (optional), log.txt, config/
 * and checkpoints/, and write OUT_PATH (RUN_DIR/report.html when NULL)
 * through a temporary file and rename(). Works on a run still in progress:
 * a last line being written is skipped, and the page of a live run reloads
 * itself. Returns 0 or DLT_ERR_IO. */
int dlt_report_write(const char *run_dir, const char *out_path);

/* One page comparing the N runs RUN_DIRS (N >= 2) written to OUT_PATH:
 * loss and accuracy against iterations, epochs and wall time overlaid, a
 * table of final figures, and the solver settings and commands that differ. */
int dlt_report_compare(const char *const *run_dirs, int n, const char *out_path);

typedef struct dlt_report_serve_options {
    const char *const *roots;  /* run directories, or directories holding run directories */
    int nroots;
    const char *bind;          /* address to listen on; NULL: 127.0.0.1 */
    int port;                  /* 0: any free port (printed) */
    double poll_s;             /* how often a run page asks for new data; <= 0: 2 s */
} dlt_report_serve_options;

/* Serve the index of runs, a live page per run, comparisons and JSON until
 * SIGINT or SIGTERM. Only the run directories found under ROOTS are served;
 * paths are never taken from a request. Returns 0, DLT_ERR_ARG (bad
 * address, no runs, or built without libmicrohttpd) or DLT_ERR_IO (cannot
 * listen). */
int dlt_report_serve(const dlt_report_serve_options *o);

#endif
