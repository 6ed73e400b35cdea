/* report_page.h - the report's HTML pieces (internal), shared by the file
 * RUN/report.html, the comparison page and the pages dltrain-report --serve
 * sends, so that all show the same markup. */
#ifndef DLTRAIN_MONITOR_REPORT_PAGE_H
#define DLTRAIN_MONITOR_REPORT_PAGE_H

#include <stdio.h>

#include "monitor/report_data.h"

/* Write S with <, >, & and " escaped. */
void dlt__html(FILE *f, const char *s);
/* <!DOCTYPE> through <body>, the inline style sheet; REFRESH_S > 0 adds a
 * meta refresh (a page that reloads itself without scripts). */
void dlt__report_head(FILE *f, const char *title, int refresh_s);
/* One run's summary, charts, system panel and log tail. */
void dlt__report_body(FILE *f, const char *run_dir, const dlt__run_data *d);
/* A whole run page: the body inside <div id="report">, a meta refresh of
 * REFRESH_S while the run is live (0: none), and SCRIPT inline if not NULL. */
int dlt__report_page(FILE *f, const char *run_dir, const dlt__run_data *d, int refresh_s,
                     const char *script);
/* Comparison of N runs (labels LABELS, data D): overlaid curves, a table of
 * final figures, the solver settings and commands that differ. */
int dlt__report_compare_page(FILE *f, const char *const *labels, const dlt__run_data *d, int n);
/* dlt_report_write; OVER: the trainer's last rewrite (never "running"). */
int dlt__report_write_over(const char *run_dir, const char *out_path, int over);
/* Write PATH through PATH.tmp-PID and rename(): readers see the old or the
 * new file, never half of one. PUT returns < 0 on failure. */
int dlt__write_atomic(const char *path, int (*put)(FILE *, void *), void *arg);

#endif
