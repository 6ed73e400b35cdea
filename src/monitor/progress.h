/* progress.h - formatting of the in-place progress line (internal). */
#ifndef DLTRAIN_MONITOR_PROGRESS_H
#define DLTRAIN_MONITOR_PROGRESS_H

#include <stdio.h>

#include "dltrain/monitor.h"

/* Write "\rLINE" padded to DLT_PROGRESS_WIDTH, no newline, and tell the
 * logger that the line is open. */
void dlt__progress_print(FILE *out, const dlt_progress *p);

#endif
