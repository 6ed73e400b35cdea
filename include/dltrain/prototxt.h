/* prototxt.h - Caffe's protobuf text format: the parser, text into the
 * configuration tree of cfg.h. */
#ifndef DLTRAIN_PROTOTXT_H
#define DLTRAIN_PROTOTXT_H

#include "dltrain/cfg.h"

/* Parse a file or a string (NAME is used in messages as the file name).
 * Syntax errors print "FILE:LINE:COL: error: ..." and return DLT_ERR_PARSE.
 * Free the tree with dlt_cfg_free. */
int dlt_pt_parse_file(const char *path, dlt_cfg **root);
int dlt_pt_parse_string(const char *text, const char *name, dlt_cfg **root);

#endif
