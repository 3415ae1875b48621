/*
 * procdirs: directories of /proc that procscan.c keeps open across calls (docs/design.md#owner-dirs).
 *
 * Every system call of a hold runs cold on the lab VM (10-40 us each after the event loop slept), and a
 * path under /proc is walked from the root at each call. For a proc root that is a procfs (checked
 * with fstatfs; the tests' fake trees are plain directories and keep the path reads) this keeps:
 *   - the root itself: the other reads are openat() relative to it;
 *   - root/loadavg: the kernel's last pid is one pread() at offset 0 (a seq_file regenerates its text
 *     at every read from offset 0);
 *   - root/PID of up to OWNER_DIRS recent socket owners, least recently used dropped first: their
 *     descriptors are probed with readlinkat(dir, "fd/N"). Such a directory names one process, not a
 *     pid number: once that process has been reaped every read through it fails with ESRCH (a closed
 *     descriptor fails with ENOENT), even when its pid has been handed out again, so the probes of a
 *     client that has exited stop at its first one and never read another process's descriptors.
 * A root of another path drops all of them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "procdirs.h"

#define OWNER_DIRS 8

static char g_root[512];
static int g_rootfd = -1;
static int g_loadavg = -1;
static struct {
  int32_t pid;
  int fd;
  uint32_t used;
} g_dirs[OWNER_DIRS] = {{0, -1, 0}, {0, -1, 0}, {0, -1, 0}, {0, -1, 0}, {0, -1, 0}, {0, -1, 0}, {0, -1, 0}, {0, -1, 0}};
static uint32_t g_tick;

static void drop_all(void) {
  for (int i = 0; i < OWNER_DIRS; i++) {
    if (g_dirs[i].fd >= 0) close(g_dirs[i].fd);
    g_dirs[i].fd = -1;
    g_dirs[i].pid = 0;
  }
  if (g_loadavg >= 0) close(g_loadavg);
  if (g_rootfd >= 0) close(g_rootfd);
  g_loadavg = g_rootfd = -1;
  g_root[0] = 0;
}

/* the open root when `root` is a procfs (kept), else -1: the caller reads by path as before */
int procdirs_root(const char *root) {
  if (g_rootfd >= 0 && strcmp(root, g_root) == 0) return g_rootfd;
  if (strlen(root) >= sizeof g_root) return -1;
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC) {
    close(fd);
    return -1;
  }
  drop_all();
  g_rootfd = fd;
  strcpy(g_root, root);
  return g_rootfd;
}

/* root/loadavg of the root procdirs_root last answered, kept open; -1 when it cannot be opened */
int procdirs_loadavg(void) {
  if (g_loadavg < 0 && g_rootfd >= 0) g_loadavg = openat(g_rootfd, "loadavg", O_RDONLY | O_CLOEXEC);
  return g_loadavg;
}

int procdirs_find(int32_t pid) {
  for (int i = 0; i < OWNER_DIRS; i++) {
    if (g_dirs[i].fd >= 0 && g_dirs[i].pid == pid) {
      g_dirs[i].used = ++g_tick;
      return g_dirs[i].fd;
    }
  }
  return -1;
}

/* keep `fd` (root/PID, opened relative to the kept root) for `pid`: the cache owns it from here on */
void procdirs_put(int32_t pid, int fd) {
  int at = -1;
  for (int i = 0; i < OWNER_DIRS; i++) {
    if (g_dirs[i].fd >= 0 && g_dirs[i].pid == pid) {
      at = i;
      break;
    }
    if (at < 0 || (g_dirs[at].fd >= 0 && (g_dirs[i].fd < 0 || g_dirs[i].used < g_dirs[at].used))) at = i;
  }
  if (g_dirs[at].fd >= 0 && g_dirs[at].fd != fd) close(g_dirs[at].fd);
  g_dirs[at].pid = pid;
  g_dirs[at].fd = fd;
  g_dirs[at].used = ++g_tick;
}

void procdirs_drop(int32_t pid) {
  for (int i = 0; i < OWNER_DIRS; i++) {
    if (g_dirs[i].fd >= 0 && g_dirs[i].pid == pid) {
      close(g_dirs[i].fd);
      g_dirs[i].fd = -1;
      g_dirs[i].pid = 0;
    }
  }
}
