/* run_lock.c - the run directory's lock (run_lock.h). The lock file is
 * written under a unique name and link()ed to RUN/lock: link is atomic on
 * NFS, where O_EXCL was not before NFSv3; a lost reply is caught by the
 * unique file's link count. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "train/run_lock.h"

struct dlt__run_lock {
    char path[4096];
    int fd;                 /* open on the lock file, holding the fcntl lock */
    pthread_t beat;
    int beating;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

/* What a lock file says about its holder. */
typedef struct holder {
    char host[256];
    long pid;
    long long proc_start;   /* the process's start in clock ticks since boot, 0 unknown */
    long long started;      /* epoch seconds */
    int fcntl_taken;        /* it holds an fcntl lock on the file */
    char started_text[64];
} holder;

/* Field 22 of /proc/PID/stat: tells a reused PID from the holder. */
static long long proc_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    long long v = 0;
    for (int field = 2; p && *p; p++)
        if (*p == ' ' && ++field == 22) {
            v = strtoll(p + 1, NULL, 10);
            break;
        }
    return v;
}

static int write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

static int read_holder(const char *path, holder *h, long long *age_s)
{
    memset(h, 0, sizeof *h);
    *age_s = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0)
        *age_s = (long long)time(NULL) - (long long)sb.st_mtime;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "host ", 5) == 0)
            snprintf(h->host, sizeof h->host, "%.255s", line + 5);
        else if (strncmp(line, "pid ", 4) == 0)
            h->pid = atol(line + 4);
        else if (strcmp(line, "fcntl 1") == 0)
            h->fcntl_taken = 1;
        else if (strncmp(line, "proc_start ", 11) == 0)
            h->proc_start = atoll(line + 11);
        else if (strncmp(line, "started ", 8) == 0 &&
                 sscanf(line + 8, "%lld", &h->started) == 1) {
            const char *t = strchr(line + 8, ' ');
            snprintf(h->started_text, sizeof h->started_text, "%s", t ? t + 1 : "");
        }
    }
    fclose(f);
    return h->host[0] && h->pid > 0 ? 0 : -1;
}

/* The fcntl lock on PATH: 1 someone holds it (alive), 0 nobody does,
 * -1 unknown (no fcntl locks on this file system). */
static int fcntl_held(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int r = fcntl(fd, F_GETLK, &fl);
    close(fd);
    return r != 0 ? -1 : fl.l_type != F_UNLCK;
}

/* Why H's lock is stale ("" if it is not). On this host: its process is
 * gone, its PID is another process now, or it took an fcntl lock that is
 * gone (a PID of another PID namespace cannot be checked). On another:
 * no heartbeat for DLT_RUN_LOCK_STALE_S (fcntl locks over NFS can be lost
 * by a live holder, so they never decide for another host). */
static void stale_reason(const char *path, const holder *h, long long age_s, const char *me,
                         char *why, size_t size)
{
    why[0] = '\0';
    int held = fcntl_held(path);
    if (held == 1)
        return;
    if (strcmp(h->host, me) == 0) {
        if (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH)
            snprintf(why, size, "process %ld on this host is gone", h->pid);
        else if (h->proc_start && proc_start(h->pid) && proc_start(h->pid) != h->proc_start)
            snprintf(why, size, "PID %ld on this host is now another process", h->pid);
        else if (h->fcntl_taken && held == 0)
            snprintf(why, size, "the fcntl lock that process %ld took is gone", h->pid);
    } else if (age_s > DLT_RUN_LOCK_STALE_S) {
        snprintf(why, size, "no heartbeat from host %s for %lld s (> %d s)", h->host, age_s,
                 DLT_RUN_LOCK_STALE_S);
    }
}

static void *heartbeat(void *arg)
{
    dlt__run_lock *lk = arg;
    pthread_mutex_lock(&lk->mu);
    while (!lk->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += DLT_RUN_LOCK_HEARTBEAT_S;
        pthread_cond_timedwait(&lk->cv, &lk->mu, &ts);
        if (!lk->stop)
            futimens(lk->fd, NULL); /* the date is the heartbeat */
    }
    pthread_mutex_unlock(&lk->mu);
    return NULL;
}

/* link() our unique file to PATH: 1 taken, 0 exists, <0 error. */
static int try_link(const char *uniq, const char *path)
{
    if (link(uniq, path) == 0)
        return 1;
    int e = errno;
    struct stat sb;
    if (stat(uniq, &sb) == 0 && sb.st_nlink == 2) /* NFS: done, but the reply was lost */
        return 1;
    if (e == EEXIST)
        return 0;
    if (e == EPERM || e == ENOSYS || e == EOPNOTSUPP) { /* no hard links: O_EXCL instead */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            return errno == EEXIST ? 0 : -errno;
        close(fd);
        return rename(uniq, path) == 0 ? 1 : -errno;
    }
    return -e;
}

int dlt__run_lock_take(const char *run_dir, dlt__run_lock **out)
{
    *out = NULL;
    char me[256] = "unknown", uniq[4200], text[1024], started[64];
    gethostname(me, sizeof me - 1);
    time_t now = time(NULL);
    struct tm tm;
    strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&now, &tm));
    dlt__run_lock *lk = dlt_calloc(1, sizeof *lk);
    lk->fd = -1;
    snprintf(lk->path, sizeof lk->path, "%s/lock", run_dir);
    snprintf(uniq, sizeof uniq, "%s/lock.%s.%ld", run_dir, me, (long)getpid());
    snprintf(text, sizeof text, "host %s\npid %ld\nproc_start %lld\nstarted %lld %s\n", me,
             (long)getpid(), proc_start((long)getpid()), (long long)now, started);
    int fd = open(uniq, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, text) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd), unlink(uniq);
        free(lk);
        DLT_FAIL(DLT_ERR_IO, "%s: cannot write the run directory's lock file: %s", uniq,
                 strerror(e));
    }
    close(fd);
    int st = DLT_OK, takeovers = 0;
    for (int attempt = 0;; attempt++) {
        int got = try_link(uniq, lk->path);
        if (got > 0)
            break;
        if (got < 0) {
            dlt_error("%s: cannot create the run directory's lock: %s", lk->path, strerror(-got));
            st = DLT_ERR_IO;
            break;
        }
        holder h;
        long long age;
        char why[512];
        if (read_holder(lk->path, &h, &age) != 0) {
            /* Being written, or damaged: a moment, then judge it by its age. */
            if (attempt < 20) {
                usleep(100000);
                continue;
            }
            if (age >= 0 && age <= DLT_RUN_LOCK_STALE_S) {
                dlt_error("%s: the lock file is unreadable or incomplete (written %lld s ago): "
                          "another run may be starting; HINT: remove it if no run uses %s",
                          lk->path, age, run_dir);
                st = DLT_ERR_IO;
                break;
            }
            snprintf(why, sizeof why, "it is unreadable and %lld s old", age);
        } else {
            stale_reason(lk->path, &h, age, me, why, sizeof why);
        }
        if (!why[0]) {
            dlt_error("%s: in use by another run: host %s, PID %ld, started %s (%lld s since "
                      "its last heartbeat); HINT: wait for it to end or stop it, or use "
                      "another --run-dir; a lock left by a killed run is taken over once its "
                      "process is gone (same host) or its heartbeat is older than %d s",
                      run_dir, h.host, h.pid, h.started_text[0] ? h.started_text : "?", age,
                      DLT_RUN_LOCK_STALE_S);
            st = DLT_ERR_IO;
            break;
        }
        if (++takeovers > 5) {
            dlt_error("%s: cannot take over the stale lock (it keeps changing)", lk->path);
            st = DLT_ERR_IO;
            break;
        }
        /* Move it aside under a unique name (atomic), then check that what
         * moved is what was judged: another taker may have been faster. */
        char aside[4300];
        snprintf(aside, sizeof aside, "%s.stale.%s.%ld", lk->path, me, (long)getpid());
        if (rename(lk->path, aside) != 0)
            continue;
        holder moved;
        long long age2;
        if (read_holder(aside, &moved, &age2) == 0 &&
            (strcmp(moved.host, h.host) != 0 || moved.pid != h.pid)) {
            if (link(aside, lk->path) != 0) /* a fresh lock: put it back */
                dlt_warn("%s: moved a live lock aside to %s and could not restore it", lk->path,
                         aside);
            unlink(aside);
            continue;
        }
        unlink(aside);
        dlt_warn("%s: taking over a stale lock of host %s, PID %ld, started %s: %s", lk->path,
                 h.host[0] ? h.host : "?", h.pid, h.started_text[0] ? h.started_text : "?", why);
    }
    unlink(uniq);
    if (st < 0) {
        free(lk);
        return st;
    }
    lk->fd = open(lk->path, O_RDWR | O_CLOEXEC);
    if (lk->fd >= 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(lk->fd, F_SETLK, &fl) == 0) {
            if (lseek(lk->fd, 0, SEEK_END) < 0 || write_all(lk->fd, "fcntl 1\n") != 0)
                dlt_warn("%s: cannot note the fcntl lock in it: %s", lk->path, strerror(errno));
        } else {
            dlt_note_once("run lock fcntl", "%s: no fcntl lock here (%s): the lock file and its "
                          "heartbeat alone guard the run directory; a lock another host left "
                          "is taken over after %d s without heartbeat", lk->path,
                          strerror(errno), DLT_RUN_LOCK_STALE_S);
        }
        pthread_mutex_init(&lk->mu, NULL);
        pthread_cond_init(&lk->cv, NULL);
        lk->beating = pthread_create(&lk->beat, NULL, heartbeat, lk) == 0;
    }
    *out = lk;
    return DLT_OK;
}

void dlt__run_lock_release(dlt__run_lock *lk)
{
    if (!lk)
        return;
    if (lk->beating) {
        pthread_mutex_lock(&lk->mu);
        lk->stop = 1;
        pthread_cond_signal(&lk->cv);
        pthread_mutex_unlock(&lk->mu);
        pthread_join(lk->beat, NULL);
        pthread_mutex_destroy(&lk->mu);
        pthread_cond_destroy(&lk->cv);
    }
    unlink(lk->path);
    if (lk->fd >= 0)
        close(lk->fd); /* drops the fcntl lock */
    free(lk);
}
