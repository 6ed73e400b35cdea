/* doctor.c - the environment doctor: each rank describes its host (cores
 * and affinity, memory, disk, file systems, MPI/HDF5 versions, GPUs) and
 * checks that it could train (run directory writable, datasets readable);
 * rank 0 prints one row per rank and the problems found. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "core/h5util.h"
#include "dltrain/doctor.h"
#include "dltrain/error.h"
#include "dltrain/sysmon.h"

/* One rank's findings: plain bytes, gathered to rank 0. */
typedef struct row {
    int rank, local_rank, cores, ok;
    char host[64];
    char affinity[96];
    double mem_avail, disk_free;  /* bytes; < 0 unknown */
    char train_fs[24], run_fs[24];
    char mpi[64], hdf5[24], locking[40];
    char gpu[160];
    char problems[600];
    char warnings[600];
} row;

/* GPU backend hook: a CUDA build links a strong definition that appends
 * "CUDA x.y, cuDNN a.b.c, NCCL p.q.r" and this rank's device to BUF. */
__attribute__((weak)) void dlt__cuda_doctor_info(int local_rank, char *buf, size_t size);

static void add(char *buf, size_t size, const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(buf);
    if (n > 0 && n + 2 < size)
        strcat(buf, "; "), n += 2;
    if (n < size)
        snprintf(buf + n, size - n, fmt, a, b);
}

/* "0-3,8,10-11" from the affinity mask. */
static void affinity_list(char *buf, size_t size, int *count)
{
    cpu_set_t set;
    buf[0] = '\0';
    *count = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        snprintf(buf, size, "?");
        return;
    }
    *count = CPU_COUNT(&set);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
            e++;
        size_t n = strlen(buf);
        if (n + 16 >= size) {
            snprintf(buf + n, size - n, "...");
            return;
        }
        snprintf(buf + n, size - n, e > c ? "%s%d-%d" : "%s%d", n ? "," : "", c, e);
        c = e;
    }
}

static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[256];
    unsigned long long kb;
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            v = 1024.0 * (double)kb;
    fclose(f);
    return v;
}

/* Network file systems where HDF5's file locking tends to fail. */
static int is_network_fs(long type)
{
    switch ((unsigned long)type) {
    case 0x6969:     /* NFS */
    case 0x0BD00BD0: /* Lustre */
    case 0x47504653: /* GPFS */
    case 0x19830326: /* BeeGFS */
    case 0xFF534D42: /* CIFS */
    case 0xFE534D42: /* SMB2 */
        return 1;
    default:
        return 0;
    }
}

static const char *fs_name(long type)
{
    switch ((unsigned long)type) {
    case 0x6969: return "nfs";
    case 0x0BD00BD0: return "lustre";
    case 0x47504653: return "gpfs";
    case 0x19830326: return "beegfs";
    case 0xFF534D42: return "cifs";
    case 0xFE534D42: return "smb2";
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlay";
    case 0x2fc12fc1: return "zfs";
    case 0x65735546: return "fuse";
    case 0x9fa0: return "proc";
    case 0x62656572: return "sysfs";
    default: return NULL;
    }
}

/* The nearest existing directory at or above PATH (a run directory may
 * not exist yet: training creates it). */
static void existing_ancestor(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    while (access(out, F_OK) != 0) {
        char *slash = strrchr(out, '/');
        if (!slash) {
            snprintf(out, size, ".");
            return;
        }
        if (slash == out) {
            out[1] = '\0';
            return;
        }
        *slash = '\0';
    }
}

static void describe_fs(const char *path, char *name, size_t size, long *type)
{
    struct statfs sf;
    *type = 0;
    if (statfs(path, &sf) != 0) {
        snprintf(name, size, "?");
        return;
    }
    *type = (long)sf.f_type;
    const char *n = fs_name(*type);
    if (n)
        snprintf(name, size, "%s", n);
    else
        snprintf(name, size, "0x%lx", (unsigned long)sf.f_type);
}

/* Really create a file: access(W_OK) says yes to root on a read-only mount. */
static int try_write(const char *dir, char *why, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.dltrain-doctor-%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(why, size, "%s", strerror(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

static void check_run_dir(const char *run_dir, row *w, long *fs_type)
{
    char dir[4096], why[256];
    existing_ancestor(run_dir, dir, sizeof dir);
    describe_fs(dir, w->run_fs, sizeof w->run_fs, fs_type);
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0)
        w->disk_free = (double)sv.f_bavail * (double)sv.f_frsize;
    char what[4200];
    snprintf(what, sizeof what, "%s", run_dir);
    if (strcmp(dir, run_dir) != 0)
        snprintf(what, sizeof what, "%s (would be created in %s)", run_dir, dir);
    if (try_write(dir, why, sizeof why) != 0) {
        w->ok = 0;
        add(w->problems, sizeof w->problems, "run directory %s is not writable: %s", what, why);
    } else if (w->disk_free >= 0 && w->disk_free < 1e9) {
        add(w->warnings, sizeof w->warnings, "less than 1 GB free for checkpoints under %s%s", dir, "");
    }
}

/* A dataset must open with HDF5 and hold /data (or /jpeg) and /label. */
static void check_dataset(const char *what, const char *path, row *w, long *fs_type, int first)
{
    char name[24];
    describe_fs(path, name, sizeof name, fs_type);
    if (first)
        snprintf(w->train_fs, sizeof w->train_fs, "%s", name);
    hid_t f;
    if (dlt__h5_open_read(path, &f) < 0) {
        w->ok = 0;
        add(w->problems, sizeof w->problems, "%s %s cannot be opened with HDF5", what, path);
        return;
    }
    int images = H5Lexists(f, "data", H5P_DEFAULT) > 0 || H5Lexists(f, "jpeg", H5P_DEFAULT) > 0;
    if (!images || H5Lexists(f, "label", H5P_DEFAULT) <= 0) {
        w->ok = 0;
        add(w->problems, sizeof w->problems, "%s %s has no /data (or /jpeg) and /label datasets",
            what, path);
    }
    H5Fclose(f);
}

static void gpu_info(int local_rank, char *buf, size_t size)
{
    char driver[96];
    int count = dlt_sys_gpu_driver(driver, sizeof driver);
    if (count > 0)
        snprintf(buf, size, "%d GPU%s, driver %s", count, count > 1 ? "s" : "", driver);
    else
        snprintf(buf, size, "none (no NVML)");
#ifdef HAVE_CUDA
    if (dlt__cuda_doctor_info) {
        size_t len = strlen(buf);
        if (len + 2 < size) {
            snprintf(buf + len, size - len, ", ");
            dlt__cuda_doctor_info(local_rank, buf + len + 2, size - len - 2);
        }
    } else {
        strncat(buf, ", CUDA build without dlt__cuda_doctor_info", size - strlen(buf) - 1);
    }
#else
    strncat(buf, ", CPU build", size - strlen(buf) - 1);
#endif
}

static void inspect(const dlt_doctor_options *opt, dlt_comm *comm, const char *locking_env, row *w)
{
    memset(w, 0, sizeof *w);
    w->ok = 1;
    w->rank = dlt_comm_rank(comm);
    w->local_rank = dlt_comm_local_rank(comm);
    snprintf(w->host, sizeof w->host, "%s", dlt_comm_host(comm));
    affinity_list(w->affinity, sizeof w->affinity, &w->cores);
    w->mem_avail = mem_available();
    w->disk_free = -1;
    if (w->mem_avail >= 0 && w->mem_avail < 1e9)
        add(w->warnings, sizeof w->warnings, "less than 1 GB of memory available%s%s", "", "");
    char mpi[256];
    dlt_comm_library_version(mpi, sizeof mpi);
    mpi[strcspn(mpi, ",")] = '\0'; /* "Open MPI v4.1.4, package: ..." */
    size_t len = strlen(mpi) < sizeof w->mpi - 1 ? strlen(mpi) : sizeof w->mpi - 1;
    memcpy(w->mpi, mpi, len);
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    snprintf(w->hdf5, sizeof w->hdf5, "%u.%u.%u", maj, min, rel);
    snprintf(w->locking, sizeof w->locking, "%s", locking_env ? locking_env : "FALSE (dltrain)");
    gpu_info(w->local_rank, w->gpu, sizeof w->gpu);
    snprintf(w->train_fs, sizeof w->train_fs, "-");
    snprintf(w->run_fs, sizeof w->run_fs, "-");
    long types[3] = {0, 0, 0};
    if (opt->train_path)
        check_dataset("training set", opt->train_path, w, &types[0], 1);
    if (opt->val_path)
        check_dataset("validation set", opt->val_path, w, &types[1], !opt->train_path);
    if (opt->run_dir)
        check_run_dir(opt->run_dir, w, &types[2]);
    /* dltrain turns locking off itself; only a user's explicit TRUE is risky. */
    int locking_on = locking_env && strcasecmp(locking_env, "FALSE") != 0 &&
                     strcmp(locking_env, "0") != 0;
    for (int i = 0; i < 3; i++)
        if (is_network_fs(types[i]) && locking_on)
            add(w->warnings, sizeof w->warnings,
                "%s is on %s with HDF5_USE_FILE_LOCKING=TRUE; HINT: unset it or set FALSE",
                i == 2 ? opt->run_dir : i == 1 ? opt->val_path : opt->train_path,
                fs_name(types[i]));
}

static void human_bytes(double v, char *buf, size_t size)
{
    if (v < 0)
        snprintf(buf, size, "?");
    else if (v >= 1e12)
        snprintf(buf, size, "%.1fT", v / 1e12);
    else
        snprintf(buf, size, "%.1fG", v / 1e9);
}

static void print_rows(const row *rows, int n)
{
    printf("dltrain %s doctor: %d rank%s\n", PACKAGE_VERSION, n, n > 1 ? "s" : "");
    printf("%-4s %-16s %-5s %-5s %-12s %-8s %-8s %-8s %-8s %-8s %-16s %-18s %-6s %s\n", "rank",
           "host", "local", "cores", "affinity", "mem_free", "disk_free", "data_fs", "run_fs",
           "hdf5", "hdf5_locking", "mpi", "status", "gpu");
    for (int i = 0; i < n; i++) {
        const row *w = &rows[i];
        char mem[16], disk[16];
        human_bytes(w->mem_avail, mem, sizeof mem);
        human_bytes(w->disk_free, disk, sizeof disk);
        printf("%-4d %-16s %-5d %-5d %-12s %-8s %-9s %-8s %-8s %-8s %-16s %-18s %-6s %s\n",
               w->rank, w->host, w->local_rank, w->cores, w->affinity, mem, disk, w->train_fs,
               w->run_fs, w->hdf5, w->locking, w->mpi, w->ok ? "ok" : "FAIL", w->gpu);
    }
    for (int i = 0; i < n; i++) {
        if (rows[i].problems[0])
            printf("rank %d (%s): cannot train: %s\n", rows[i].rank, rows[i].host, rows[i].problems);
        if (rows[i].warnings[0])
            printf("rank %d (%s): warning: %s\n", rows[i].rank, rows[i].host, rows[i].warnings);
    }
    fflush(stdout);
}

int dlt_doctor_run(const dlt_doctor_options *opt, dlt_comm *comm)
{
    /* Read before dlt__h5_init sets its default. */
    const char *env = getenv("HDF5_USE_FILE_LOCKING");
    char locking[40];
    snprintf(locking, sizeof locking, "%s", env ? env : "");
    dlt__h5_init();
    row mine;
    inspect(opt, comm, env ? locking : NULL, &mine);
    int rank = dlt_comm_rank(comm), size = dlt_comm_size(comm);
    row *all = rank == 0 ? dlt_calloc((size_t)size, sizeof *all) : NULL;
    dlt_comm_gather_bytes(comm, &mine, (int)sizeof mine, all, 0);
    if (all) {
        print_rows(all, size);
        free(all);
    }
    double bad = mine.ok ? 0 : 1;
    dlt_comm_allreduce_sum_doubles(comm, &bad, 1);
    if (rank == 0)
        printf("%s\n", bad > 0 ? "doctor: at least one rank cannot train (see above)"
                               : "doctor: every rank can train");
    return bad > 0 ? DLT_ERR_IO : 0;
}
