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

/* Earlier names of the tree and its accessors (before the tree moved to
 * core/, issue 19), for code not yet converted: the solver and its
 * tests. New code uses the dlt_cfg names. */
typedef dlt_cfg dlt_pnode;
#define dlt_pt_free dlt_cfg_free
#define dlt_pt_get dlt_cfg_get
#define dlt_pt_count dlt_cfg_count
#define dlt_pt_nth dlt_cfg_nth
#define dlt_pt_int dlt_cfg_int
#define dlt_pt_float dlt_cfg_float
#define dlt_pt_bool dlt_cfg_bool
#define dlt_pt_string dlt_cfg_string
#define dlt_pt_enum dlt_cfg_enum
#define dlt_pt_node_int dlt_cfg_node_int
#define dlt_pt_node_float dlt_cfg_node_float
#define dlt_pt_node_string dlt_cfg_node_string
#define dlt_pt_mark_used dlt_cfg_mark_used
#define dlt_pt_check_unused dlt_cfg_check_unused
#define dlt_pt_where dlt_cfg_where

#endif
