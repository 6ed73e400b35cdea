/* dltrain-mpi - the trainer: parse options, start the communicator, run
 * the training loop. Runs as one process or as P ranks under mpirun/srun. */
#include "dltrain/comm.h"
#include "dltrain/cpu.h"
#include "dltrain/doctor.h"
#include "dltrain/error.h"
#include "dltrain/train.h"
#include "tools/train_cli.h"

int main(int argc, char **argv)
{
    dlt_cpu_short_idle_spins(argv);
    dlt_train_options opt;
    int doctor;
    int st = dlt__train_cli_parse(argc, argv, &opt, &doctor);
    if (st != DLT__TRAIN_CLI_RUN)
        return st;
    dlt_comm *comm = dlt_comm_init(&argc, &argv);
    if (doctor) {
        dlt_doctor_options dopt = {opt.train_path, opt.val_path, opt.run_dir};
        st = dlt_doctor_run(&dopt, comm) == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
    } else {
        int rc = dlt_train_run(&opt, comm);
        st = rc == DLT_TRAIN_PREEMPTED ? DLT_EXIT_PREEMPTED
             : rc == 0                 ? DLT_EXIT_OK
                                       : DLT_EXIT_FAILURE;
    }
    dlt_comm_finalize(comm);
    dlt__train_cli_free(&opt);
    return st;
}
