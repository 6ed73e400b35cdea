/* report_serve_none.c - dlt_report_serve when configure found no
 * libmicrohttpd: a clear message instead of a server. */
#include "dltrain/error.h"
#include "dltrain/report.h"

int dlt_report_serve(const dlt_report_serve_options *o)
{
    (void)o;
    DLT_FAIL(DLT_ERR_ARG, "this dltrain-report was built without libmicrohttpd, so --serve is not "
             "available. HINT: apt-get install libmicrohttpd-dev, then configure and make again; "
             "meanwhile RUN/report.html keeps itself current during training");
}
