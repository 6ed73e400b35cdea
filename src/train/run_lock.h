/* run_lock.h - one run at a time in a run directory: RUN/lock, made with
 * link() (atomic on NFS too), says who holds it (host, PID, start time);
 * an fcntl lock on it where the file system has them, and a heartbeat
 * (its date, refreshed every DLT_RUN_LOCK_HEARTBEAT_S) where it has not.
 * Rank 0 takes it; the others learn of a refusal through setup's vote. */
#ifndef DLTRAIN_TRAIN_RUN_LOCK_H
#define DLTRAIN_TRAIN_RUN_LOCK_H

#define DLT_RUN_LOCK_HEARTBEAT_S 60
/* A lock of another host whose heartbeat is older than this is stale. */
#define DLT_RUN_LOCK_STALE_S 600

typedef struct dlt__run_lock dlt__run_lock;
/* Take RUN_DIR/lock (the directory exists). A live holder: DLT_ERR_IO and
 * a message naming its host, PID and start time. A stale one (same host and
 * its process gone; other host and no heartbeat for DLT_RUN_LOCK_STALE_S)
 * is reported and taken over. */
int dlt__run_lock_take(const char *run_dir, dlt__run_lock **out);
/* Stop the heartbeat, remove the lock (NULL: nothing). */
void dlt__run_lock_release(dlt__run_lock *lk);

#endif
