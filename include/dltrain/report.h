/* report.h - dltrain-report: a run directory as one self-contained HTML page. */
#ifndef DLTRAIN_REPORT_H
#define DLTRAIN_REPORT_H

/* Read RUN_DIR's metrics.jsonl, system.jsonl (optional), log.txt, config/
 * and checkpoints/, and write OUT_PATH (RUN_DIR/report.html when NULL)
 * through a temporary file. Works on a run still in progress: a last line
 * being written is skipped. Returns 0 or DLT_ERR_IO. */
int dlt_report_write(const char *run_dir, const char *out_path);

#endif
