/* train_cli.h - dltrain-mpi's command line: options into dlt_train_options,
 * --help text, and the checks that make a bad command line exit 2. */
#ifndef DLTRAIN_TOOLS_TRAIN_CLI_H
#define DLTRAIN_TOOLS_TRAIN_CLI_H

#include "dltrain/train.h"

/* dlt__train_cli_parse's answer when the tool should go on and run. */
#define DLT__TRAIN_CLI_RUN (-1)

/* Fill OPT from the command line. Returns DLT__TRAIN_CLI_RUN with *DOCTOR
 * set for --doctor (and no other argument), else the exit status to end
 * with: DLT_EXIT_OK after --help or --version, DLT_EXIT_USAGE after a bad
 * command line (already reported). On DLT__TRAIN_CLI_RUN, OPT owns a copy
 * of the command line: release it with dlt__train_cli_free. */
int dlt__train_cli_parse(int argc, char **argv, dlt_train_options *opt, int *doctor);
void dlt__train_cli_free(dlt_train_options *opt);

#endif
