/*
 * procscan: the socket-owner search of src/enrich/process/proc-correlator.ts done in C. Which
 * process holds socket inode N is only known by reading the links in /proc/PID/fd; from JS each
 * readlink costs an fs binding call, a string and (for a vanished fd) an exception, ~5-15 us
 * on a loaded 2-core host, and the search reads tens to hundreds of links per SYN. Here a link
 * is one readlinkat() on an open fd directory (~1 us), nothing is allocated per link.
 *
 * JS API (synchronous, never throws on the lookup path):
 *   pids(procRoot: string) -> Int32Array   numeric entries of procRoot, highest first
 *   findSocket(procRoot: string, pids: Int32Array, count: number, inode: number, budgetUs: number)
 *       -> [index, fd]   pids[index] holds socket:[inode] as descriptor fd
 *       -> n (number)    no hit in pids[0..n); n < count: the budget ran out before pids[n]
 *   The budget is checked before each pid (a pid's fd table, once started, is read whole).
 *   probeFds(procRoot: string, pids: Int32Array, fds: Int32Array, count: number, inode: number, gone?: Int32Array)
 *       -> index of the first (pids[i], fds[i]) whose /proc/PID/fd/FD links to socket:[inode], or -1
 *          (one readlink each; a closed fd is just a miss, no exception). On a procfs root each pid's
 *          directory is kept open (procdirs.c) and read with readlinkat(dir, "fd/FD"); a process that
 *          no longer exists (its directory cannot be opened, or a kept one answers ESRCH) has its
 *          remaining probes skipped and gone[i] set to 1 for them (gone is zeroed first)
 *   newPids(procRoot: string, from: number, max: number)
 *       -> null when procRoot/loadavg has no last pid; else Int32Array [last, (pid, state, thread)...]:
 *          the kernel's last pid (loadavg's last field) and, when 0 < from < last <= from + max,
 *          for each pid from last down to from + 1 whose stat can be read: its state letter (char
 *          code; 0 when the field is not one letter) and 1 when it is a thread's id (exit_signal,
 *          field 38, is -1) — what owner-search.ts newPids read with two to 1 + max fs calls
 *   readProc(procRoot: string, pid: number, mask: number, hostMnt?: string, hostRoot?: string)
 *       -> null when procRoot/PID cannot be opened, else an array of READ_FIELDS entries, each the
 *          raw bytes (latin1 string) of one file or link of the process, or null when it is not
 *          asked for (mask bit 1 << i) or cannot be read (gone, no such file, not permitted):
 *          [stat, loginuid, sessionid, exe, cmdline, cgroup, status, ns/net, ns/mnt, exeDevIno, hostDevIno]
 *          read in that order through one open directory of /proc/PID (openat, readlinkat: no
 *          path walk per file, no JS per file), so a ProcessInfo is read with one crossing
 *          instead of ~7-10 fs calls (docs/design.md#hold-read). sessionid only when loginuid
 *          was set (not 4294967295); exeDevIno ("dev:ino" of the file /proc/PID/exe runs, by
 *          stat()) only when ns/mnt was read and differs from hostMnt; hostDevIno (the same of
 *          hostRoot + the exe's path, " (deleted)" left off; "" when there is no such file)
 *          only when exeDevIno was read and the path is absolute. A small file is read with
 *          one read() when it fits the buffer, as proc-fs.ts readPidFile does; one that fills the
 *          64 KiB buffer is `true` instead (the caller reads it to its end from JS).
 *          The directory fd pins the process: after it exits (and its pid is reused) every read
 *          fails instead of reading another process's files. Mask bit 1 << READ_FIELDS (RF_KEEP_DIR):
 *          on a procfs root the directory is kept for probeFds instead of closed (a socket's owner).
 *   findSocket reads each fd table highest descriptor first; newPids reads a procfs root's loadavg
 *   through a kept descriptor (procdirs.c).
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "procdirs.h"
#include "procscan.h"

/* linux_dirent64 as getdents64 returns it */
struct dirent64_k {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static char g_dents[32 * 1024];

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int desc_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok || len == 0 || len >= size - 1) return 0;
  return 1;
}

static napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value Pids(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[512];
  int32_t *list = NULL;
  size_t n = 0, cap = 0;
  if (argc >= 1 && get_string(env, argv[0], root, sizeof root)) {
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      for (;;) {
        long got = syscall(SYS_getdents64, dfd, g_dents, sizeof g_dents);
        if (got <= 0) break;
        for (long off = 0; off < got;) {
          struct dirent64_k *d = (struct dirent64_k *)(g_dents + off);
          off += d->d_reclen;
          const char *s = d->d_name;
          if (*s < '0' || *s > '9') continue;
          long v = 0;
          for (; *s >= '0' && *s <= '9' && v <= INT32_MAX; s++) v = v * 10 + (*s - '0');
          if (*s != 0 || v > INT32_MAX) continue;
          if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            int32_t *bigger = realloc(list, ncap * sizeof *list);
            if (!bigger) break;
            list = bigger;
            cap = ncap;
          }
          if (n < cap) list[n++] = (int32_t)v;
        }
      }
      close(dfd);
    }
  }
  if (n > 1) qsort(list, n, sizeof *list, desc_int32);
  napi_value ab, arr;
  void *data = NULL;
  napi_create_arraybuffer(env, n * sizeof(int32_t), &data, &ab);
  if (n) memcpy(data, list, n * sizeof(int32_t));
  free(list);
  napi_create_typedarray(env, napi_int32_array, n, ab, 0, &arr);
  return arr;
}

static int get_int32_array(napi_env env, napi_value v, const int32_t **out, size_t *length) {
  bool typed = false;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &typed) != napi_ok || !typed ||
      napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != napi_int32_array)
    return 0;
  *out = data;
  return 1;
}

/*
 * open root/PID + sub (sub "" or "/fd") as a directory: relative to the kept procfs root `rfd` when there
 * is one (procdirs.c), else by its whole path (a fake tree); -1 with errno on failure
 */
static int open_pid_dir(const char *root, int rfd, int32_t pid, const char *sub) {
  char path[600];
  if (rfd >= 0) {
    snprintf(path, sizeof path, "%d%s", pid, sub);
    return openat(rfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  snprintf(path, sizeof path, "%s/%d%s", root, pid, sub);
  return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * fd number holding the link `want` (length wlen, or alt/alen) in PID/fd; -1 if none. Each getdents64
 * chunk is read highest descriptor first: a process's newest socket (the one a held SYN comes from) is
 * most often its highest descriptor, where the kernel listed it last. The order only decides how soon.
 */
static int scan_pid(const char *root, int32_t pid, const char *want, size_t wlen, const char *alt, size_t alen) {
  int rfd = procdirs_root(root), kept = rfd >= 0 ? procdirs_find(pid) : -1;
  int dfd = kept >= 0 ? openat(kept, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : open_pid_dir(root, rfd, pid, "/fd");
  if (dfd < 0) return -1;
  char link[64];
  int hit = -1;
  /* a dirent64 is at least 24 bytes: a chunk holds at most sizeof g_dents / 24 */
  static int at[sizeof g_dents / 24 + 1];
  for (;;) {
    long got = syscall(SYS_getdents64, dfd, g_dents, sizeof g_dents);
    if (got <= 0) break;
    int k = 0;
    for (long off = 0; off < got;) {
      struct dirent64_k *d = (struct dirent64_k *)(g_dents + off);
      if (d->d_name[0] >= '0' && d->d_name[0] <= '9') at[k++] = (int)off;
      off += d->d_reclen;
    }
    while (k > 0 && hit < 0) {
      struct dirent64_k *d = (struct dirent64_k *)(g_dents + at[--k]);
      ssize_t n = readlinkat(dfd, d->d_name, link, sizeof link);
      if (n <= 0 || (size_t)n >= sizeof link) continue;
      if (((size_t)n == wlen && memcmp(link, want, wlen) == 0) || ((size_t)n == alen && memcmp(link, alt, alen) == 0))
        hit = atoi(d->d_name);
    }
    if (hit >= 0) break;
  }
  close(dfd);
  return hit;
}

static napi_value FindSocket(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[512];
  uint32_t count = 0;
  double inode = 0, budget = 0;
  size_t length = 0;
  const int32_t *pids = NULL;
  if (argc < 5 || !get_string(env, argv[0], root, sizeof root) || !get_int32_array(env, argv[1], &pids, &length) ||
      napi_get_value_uint32(env, argv[2], &count) != napi_ok ||
      napi_get_value_double(env, argv[3], &inode) != napi_ok || napi_get_value_double(env, argv[4], &budget) != napi_ok ||
      inode < 0 || inode > 18446744073709551615.0)
    return number(env, 0);
  if (count > length) count = (uint32_t)length;
  char want[48], alt[48];
  int wlen = snprintf(want, sizeof want, "socket:[%llu]", (unsigned long long)inode);
  int alen = snprintf(alt, sizeof alt, "[0000]:%llu", (unsigned long long)inode);
  double deadline = now_us() + budget;
  for (uint32_t i = 0; i < count; i++) {
    if (now_us() > deadline) return number(env, i);
    int fd = scan_pid(root, pids[i], want, (size_t)wlen, alt, (size_t)alen);
    if (fd >= 0) {
      napi_value arr;
      napi_create_array_with_length(env, 2, &arr);
      napi_set_element(env, arr, 0, number(env, i));
      napi_set_element(env, arr, 1, number(env, fd));
      return arr;
    }
  }
  return number(env, count);
}

static napi_value ProbeFds(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[512];
  const int32_t *pids, *fds, *gone_in = NULL;
  size_t npids = 0, nfds = 0, ngone = 0;
  uint32_t count = 0;
  double inode = 0;
  if (argc < 5 || !get_string(env, argv[0], root, sizeof root) || !get_int32_array(env, argv[1], &pids, &npids) ||
      !get_int32_array(env, argv[2], &fds, &nfds) || napi_get_value_uint32(env, argv[3], &count) != napi_ok ||
      napi_get_value_double(env, argv[4], &inode) != napi_ok || inode < 0 || inode > 18446744073709551615.0)
    return number(env, -1);
  if (count > npids) count = (uint32_t)npids;
  if (count > nfds) count = (uint32_t)nfds;
  int32_t *gone = NULL;
  if (argc >= 6 && get_int32_array(env, argv[5], &gone_in, &ngone) && ngone >= count) {
    gone = (int32_t *)gone_in;
    memset(gone, 0, count * sizeof *gone);
  }
  char want[48], path[600], link[64];
  int wlen = snprintf(want, sizeof want, "socket:[%llu]", (unsigned long long)inode);
  int rfd = procdirs_root(root);
  if (rfd < 0) {
    for (uint32_t i = 0; i < count; i++) {
      snprintf(path, sizeof path, "%s/%d/fd/%d", root, pids[i], fds[i]);
      ssize_t n = readlink(path, link, sizeof link);
      if (n == wlen && memcmp(link, want, (size_t)wlen) == 0) return number(env, i);
    }
    return number(env, -1);
  }
  /* through the owner's kept directory (procdirs.c): a process reaped since fails with ESRCH */
  int32_t cur = 0;
  int dfd = -1;
  bool dead = false;
  for (uint32_t i = 0; i < count; i++) {
    if (i == 0 || pids[i] != cur) {
      cur = pids[i];
      dead = false;
      dfd = procdirs_find(cur);
      if (dfd < 0) {
        dfd = open_pid_dir(root, rfd, cur, "");
        if (dfd >= 0) procdirs_put(cur, dfd);
        else dead = errno == ENOENT || errno == ESRCH;
      }
    }
    if (dfd < 0) {
      if (dead && gone) gone[i] = 1;
      continue;
    }
    snprintf(path, sizeof path, "fd/%d", fds[i]);
    ssize_t n = readlinkat(dfd, path, link, sizeof link);
    if (n == wlen && memcmp(link, want, (size_t)wlen) == 0) return number(env, i);
    if (n < 0 && errno == ESRCH) {
      procdirs_drop(cur);
      dfd = -1;
      dead = true;
      if (gone) gone[i] = 1;
    }
  }
  return number(env, -1);
}

enum { RF_STAT, RF_LOGINUID, RF_SESSIONID, RF_EXE, RF_CMDLINE, RF_CGROUP, RF_STATUS, RF_NSNET, RF_NSMNT, RF_EXESTAT, RF_HOSTSTAT, READ_FIELDS };
/* mask bit: keep the process's directory open for probeFds (procdirs.c), not a file read */
#define RF_KEEP_DIR (1u << READ_FIELDS)

static char g_file[64 * 1024];

/*
 * a small file at dfd/name into g_file: its length; -1 when it cannot be read; -2 when it fills
 * g_file (the caller reads it from JS, to its end, as before)
 */
static ssize_t read_small(int dfd, const char *name) {
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    size_t room = sizeof g_file - len;
    ssize_t n = read(fd, g_file + len, room);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return -1;
    }
    len += (size_t)n;
    /* the kernel produces these files whole on the first read(): one short of the buffer is all */
    if (n == 0 || (size_t)n < room) break;
    if (len == sizeof g_file) {
      close(fd);
      return -2;
    }
  }
  close(fd);
  return (ssize_t)len;
}

static napi_value latin1(napi_env env, const char *s, size_t n) {
  napi_value v;
  napi_create_string_latin1(env, s, n, &v);
  return v;
}

static napi_value ReadProc(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[512], host_mnt[128] = {0}, host_root[512] = {0}, exe[4096] = {0};
  int32_t pid = 0;
  uint32_t mask = 0;
  napi_value nul;
  napi_get_null(env, &nul);
  if (argc < 3 || !get_string(env, argv[0], root, sizeof root) || napi_get_value_int32(env, argv[1], &pid) != napi_ok ||
      pid <= 0 || napi_get_value_uint32(env, argv[2], &mask) != napi_ok)
    return nul;
  bool have_host = argc >= 4 && get_string(env, argv[3], host_mnt, sizeof host_mnt);
  size_t root_len = 0;
  bool have_root = argc >= 5 && napi_get_value_string_utf8(env, argv[4], host_root, sizeof host_root, &root_len) == napi_ok &&
                   root_len < sizeof host_root - 1;
  bool exe_checked = false;
  int rfd = procdirs_root(root), dfd = open_pid_dir(root, rfd, pid, "");
  if (dfd < 0) return nul;
  napi_value arr;
  napi_create_array_with_length(env, READ_FIELDS, &arr);
  static const char *files[READ_FIELDS] = {"stat", "loginuid", "sessionid", "exe", "cmdline", "cgroup", "status", "ns/net", "ns/mnt", "exe", ""};
  char link[4096], mnt[256] = {0};
  bool login_set = false;
  for (int i = 0; i < READ_FIELDS; i++) {
    napi_value v = nul;
    if (mask & (1u << i)) {
      if (i == RF_SESSIONID && !login_set) {
        /* not read: the login was never set (or not read) */
      } else if (i == RF_EXE || i == RF_NSNET || i == RF_NSMNT) {
        ssize_t n = readlinkat(dfd, files[i], link, sizeof link);
        if (n > 0 && (size_t)n < sizeof link) {
          v = latin1(env, link, (size_t)n);
          if (i == RF_NSMNT && (size_t)n < sizeof mnt) memcpy(mnt, link, (size_t)n);
          if (i == RF_EXE) {
            /* the path as exeOf gives it: " (deleted)" kept off */
            size_t len = (size_t)n;
            if (len >= 10 && memcmp(link + len - 10, " (deleted)", 10) == 0) len -= 10;
            memcpy(exe, link, len);
            exe[len] = 0;
          }
        }
      } else if (i == RF_EXESTAT) {
        struct stat st;
        if (have_host && mnt[0] && strcmp(mnt, host_mnt) != 0 && fstatat(dfd, "exe", &st, 0) == 0) {
          int n = snprintf(link, sizeof link, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
          v = latin1(env, link, (size_t)n);
          exe_checked = true;
        }
      } else if (i == RF_HOSTSTAT) {
        /* the host's file at the exe's path (in init's root): "" when there is none */
        struct stat st;
        if (have_root && exe_checked && exe[0] == '/' && snprintf(link, sizeof link, "%s%s", host_root, exe) < (int)sizeof link) {
          if (stat(link, &st) == 0) {
            int n = snprintf(link, sizeof link, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
            v = latin1(env, link, (size_t)n);
          } else {
            v = latin1(env, "", 0);
          }
        }
      } else {
        ssize_t n = read_small(dfd, files[i]);
        if (n == -2) napi_get_boolean(env, true, &v);
        if (n >= 0) {
          v = latin1(env, g_file, (size_t)n);
          if (i == RF_LOGINUID) login_set = n > 0 && !(n >= 10 && memcmp(g_file, "4294967295", 10) == 0);
        }
      }
    }
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  if (rfd >= 0 && (mask & RF_KEEP_DIR)) procdirs_put(pid, dfd);
  else close(dfd);
  return arr;
}

static napi_value NewPids(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[512];
  int32_t from = 0, max = 0;
  napi_value nul;
  napi_get_null(env, &nul);
  if (argc < 3 || !get_string(env, argv[0], root, sizeof root) || napi_get_value_int32(env, argv[1], &from) != napi_ok ||
      napi_get_value_int32(env, argv[2], &max) != napi_ok || max < 0 || max > 1024)
    return nul;
  /* a procfs root and its loadavg stay open (procdirs.c): one pread; a fake tree is opened each time */
  int kept = procdirs_root(root), lfd = kept >= 0 ? procdirs_loadavg() : -1;
  int rfd = kept >= 0 ? kept : open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return nul;
  ssize_t n;
  if (lfd >= 0) {
    do n = pread(lfd, g_file, sizeof g_file - 1, 0);
    while (n < 0 && errno == EINTR);
  } else {
    n = read_small(rfd, "loadavg");
  }
  long last = -1;
  if (n > 0) {
    size_t end = (size_t)n;
    while (end > 0 && (g_file[end - 1] == '\n' || g_file[end - 1] == ' ')) end--;
    size_t start = end;
    while (start > 0 && g_file[start - 1] >= '0' && g_file[start - 1] <= '9') start--;
    if (start < end && end - start <= 10 && (start == 0 || g_file[start - 1] == ' ')) {
      last = 0;
      for (size_t i = start; i < end; i++) last = last * 10 + (g_file[i] - '0');
      if (last <= 0 || last > INT32_MAX) last = -1;
    }
  }
  if (last < 0) {
    if (rfd != kept) close(rfd);
    return nul;
  }
  int32_t out[1 + 3 * 1024];
  size_t k = 0;
  out[k++] = (int32_t)last;
  if (from > 0 && last > from && last - from <= max) {
    char name[24];
    for (long pid = last; pid > from; pid--) {
      snprintf(name, sizeof name, "%ld/stat", pid);
      ssize_t m = read_small(rfd, name);
      if (m <= 0) continue;
      /* fields after the comm, which may hold any byte: the last ')' ends it */
      ssize_t close_at = m - 1;
      while (close_at >= 0 && g_file[close_at] != ')') close_at--;
      if (close_at < 0) continue;
      const char *p = g_file + close_at + 2, *end = g_file + m;
      int state = 0, thread = 0;
      for (int field = 0; p < end && field <= 35; field++) {
        const char *q = p;
        while (q < end && *q != ' ' && *q != '\n') q++;
        if (field == 0 && q - p == 1) state = (unsigned char)*p;
        if (field == 35 && q - p == 2 && p[0] == '-' && p[1] == '1') thread = 1;
        p = q + 1;
      }
      out[k++] = (int32_t)pid;
      out[k++] = state;
      out[k++] = thread;
    }
  }
  if (rfd != kept) close(rfd);
  napi_value ab, arr;
  void *data = NULL;
  napi_create_arraybuffer(env, k * sizeof(int32_t), &data, &ab);
  memcpy(data, out, k * sizeof(int32_t));
  napi_create_typedarray(env, napi_int32_array, k, ab, 0, &arr);
  return arr;
}

void procscan_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pids", NULL, Pids, NULL, NULL, NULL, napi_enumerable, NULL},
      {"findSocket", NULL, FindSocket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"probeFds", NULL, ProbeFds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readProc", NULL, ReadProc, NULL, NULL, NULL, napi_enumerable, NULL},
      {"newPids", NULL, NewPids, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
