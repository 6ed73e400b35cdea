/* progress.c - the one-line progress display on a terminal: epoch and %
 * of it, iteration, images/s, loss, lr, ETA, redrawn in place with \r
 * (spaces blank the rest; no escape codes, so even a captured terminal
 * stream stays readable). Only ever written to a TTY, never to files. */
#include <math.h>
#include <stdio.h>

#include "dltrain/error.h"
#include "monitor/progress.h"

static void format_eta(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 360000)
        snprintf(buf, size, "--:--");
    else if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", (long)s / 3600, (long)s / 60 % 60, (long)s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", (long)s / 60, (long)s % 60);
}

void dlt__progress_print(FILE *out, const dlt_progress *p)
{
    char eta[32], line[256];
    format_eta(p->eta_s, eta, sizeof eta);
    double whole = floor(p->epoch);
    int n = snprintf(line, sizeof line,
                     "epoch %ld [%3d%%]  iter %ld/%ld  %.0f images/s  loss %.4f  lr %.4g  ETA %s",
                     (long)whole, (int)((p->epoch - whole) * 100), p->iter, p->max_iter,
                     p->images_per_s, p->loss, p->lr, eta);
    if (n > DLT_PROGRESS_WIDTH)
        line[DLT_PROGRESS_WIDTH] = '\0';
    fprintf(out, "\r%-*s", DLT_PROGRESS_WIDTH, line);
    fflush(out);
    dlt_log_set_stdout_line(1);
}
