/* comm_internal.h - what the comm module's own files share beyond the
 * public API: the MPI communicator behind a dlt_comm and the checked-call
 * macro (a failing MPI call names itself, file:line, rank and host, then
 * aborts every rank). */
#ifndef DLTRAIN_COMM_INTERNAL_H
#define DLTRAIN_COMM_INTERNAL_H

#include <mpi.h>

#include "dltrain/comm.h"
#include "dltrain/error.h"

MPI_Comm dlt__comm_world(const dlt_comm *c);
/* MPI's thread support level (MPI_Query_thread). */
int dlt__comm_thread_level(void);

#define DLT__MPI_CHECK(call)                                                     \
    do {                                                                         \
        int mpi_rc_ = (call);                                                    \
        if (mpi_rc_ != MPI_SUCCESS) {                                            \
            char mpi_msg_[MPI_MAX_ERROR_STRING];                                 \
            int mpi_len_ = 0;                                                    \
            MPI_Error_string(mpi_rc_, mpi_msg_, &mpi_len_);                      \
            dlt_fatal_at(__FILE__, __LINE__, "MPI call %s failed: %s", #call,    \
                         mpi_msg_);                                              \
        }                                                                        \
    } while (0)

#endif
