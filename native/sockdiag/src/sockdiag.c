/*
 * sockdiag: one exact TCP socket lookup through NETLINK_SOCK_DIAG (inet_diag_req_v2 with a full
 * inet_diag_sockid, no NLM_F_DUMP), synchronous. The kernel answers from its established hash
 * in O(1), whatever the number of sockets on the host; /proc/net/tcp walks all of them.
 *
 * JS API (all synchronous, no exceptions on the lookup path):
 *   open()                 -> fd (number) of a sock_diag socket in the caller's netns, or -errno
 *   openIn(nsPath: string, nsInode?: number) -> fd of a sock_diag socket created inside the network namespace of
 *                             nsPath (/proc/PID/ns/net), or -errno (EPERM without CAP_SYS_ADMIN).
 *                             setns() runs on a short-lived thread, so Node's threads never
 *                             change namespace; a netlink socket stays in the netns it was
 *                             created in. With nsInode, -ESTALE unless nsPath is that netns.
 *   query(fd, family 4|6, src Buffer, sport, dst Buffer, dport, dump?: boolean, states?: bitmask)
 *                          -> [inode, uid, state] | null (no such socket) | errno (number > 0)
 *                             src is the socket's local address, dst its peer; 4 or 16 bytes.
 *                             dump: walk the sockets in `states` instead of the exact lookup.
 *   close(fd)
 *   pids(), findSocket(): the socket-owner search over /proc/PID/fd, see procscan.c
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "malloc-tuning.h"
#include "procscan.h"

static uint32_t g_seq = 0;

static int open_diag_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -errno;
  /* the kernel answers within sendmsg(); the timeout only bounds a broken kernel/module */
  struct timeval tv = {0, 50 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

struct ns_job {
  const char *path;
  double want_inode; /* 0: any */
  int result;
};

static void *ns_thread(void *arg) {
  struct ns_job *job = arg;
  int nsfd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    job->result = -errno;
    return NULL;
  }
  struct stat st;
  if (job->want_inode > 0 && (fstat(nsfd, &st) != 0 || (double)st.st_ino != job->want_inode)) {
    job->result = -ESTALE; /* the pid left (or never was in) that namespace */
    close(nsfd);
    return NULL;
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    job->result = -errno;
    close(nsfd);
    return NULL;
  }
  close(nsfd);
  job->result = open_diag_socket();
  return NULL; /* the thread ends here, with its namespace */
}

static int open_in(const char *path, double want_inode) {
  struct ns_job job = {path, want_inode, -EINVAL};
  pthread_t t;
  int rc = pthread_create(&t, NULL, ns_thread, &job);
  if (rc != 0) return -rc;
  pthread_join(t, NULL);
  return job.result;
}

/*
 * returns 1 found, 0 not found, -errno on failure. dump=0: exact lookup by the kernel (O(1); misses
 * a socket bound to a device, SO_BINDTODEVICE, since the lookup gives no interface). dump=1: the
 * kernel walks its hash and sends only sockets in `states` (a bitmask of TCP states); the tuple is
 * matched here.
 */
static int query(int fd, int v6, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport, int dump,
                 uint32_t states, uint32_t *inode, uint32_t *uid, uint8_t *state) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof req);
  uint32_t seq = ++g_seq;
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
  req.nlh.nlmsg_seq = seq;
  req.r.sdiag_family = v6 ? AF_INET6 : AF_INET;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = dump ? states : ~0U;
  req.r.id.idiag_sport = htons(sport);
  req.r.id.idiag_dport = htons(dport);
  memcpy(req.r.id.idiag_src, src, v6 ? 16 : 4);
  memcpy(req.r.id.idiag_dst, dst, v6 ? 16 : 4);
  req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;

  /* uint32-aligned buffer; an answer is one inet_diag_msg or one nlmsgerr */
  uint32_t buf[8192];
  int found = 0;
  for (int tries = 0; tries < (dump ? 1 << 20 : 8); tries++) {
    n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue; /* a late answer to an earlier, timed-out query */
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EBADMSG;
        int err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
        /* exact lookup: ENOENT is "no such socket"; a dump ends with NLMSG_DONE, so any error is
           a failure (ENOENT there: no inet_diag/tcp_diag handler in this kernel) */
        if (err == ENOENT && !dump) return 0;
        return err == 0 ? -EBADMSG : -err;
      }
      if (h->nlmsg_type == NLMSG_DONE) return found;
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return -EBADMSG;
        struct inet_diag_msg *m = NLMSG_DATA(h);
        if (dump && (found || m->id.idiag_sport != htons(sport) || m->id.idiag_dport != htons(dport) ||
                     memcmp(m->id.idiag_src, src, v6 ? 16 : 4) != 0 || memcmp(m->id.idiag_dst, dst, v6 ? 16 : 4) != 0))
          continue; /* read on to NLMSG_DONE so the next query starts clean */
        *inode = m->idiag_inode;
        *uid = m->idiag_uid;
        *state = m->idiag_state;
        if (!dump) return 1;
        found = 1;
      }
    }
  }
  return -EBADMSG;
}

/* ---------- N-API glue ---------- */

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static napi_value js_null(napi_env env) {
  napi_value out;
  napi_get_null(env, &out);
  return out;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  (void)info;
  return num(env, open_diag_socket());
}

static napi_value OpenIn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[256];
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 ||
      len >= sizeof path - 1)
    return num(env, -EINVAL);
  double want = 0;
  if (argc >= 2) napi_get_value_double(env, argv[1], &want);
  return num(env, open_in(path, want));
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return js_null(env);
}

static int get_addr(napi_env env, napi_value v, size_t want, uint8_t *out) {
  void *data;
  size_t len;
  bool is_buf = false;
  if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf) return 0;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok || len != want) return 0;
  memcpy(out, data, want);
  return 1;
}

static napi_value Query(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, family, sport, dport;
  uint8_t src[16] = {0}, dst[16] = {0};
  if (argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &family) != napi_ok || (family != 4 && family != 6) ||
      napi_get_value_int32(env, argv[3], &sport) != napi_ok || napi_get_value_int32(env, argv[5], &dport) != napi_ok ||
      sport < 0 || sport > 65535 || dport < 0 || dport > 65535)
    return num(env, EINVAL);
  size_t alen = family == 6 ? 16 : 4;
  if (!get_addr(env, argv[2], alen, src) || !get_addr(env, argv[4], alen, dst)) return num(env, EINVAL);
  uint32_t inode = 0, uid = 0;
  uint8_t state = 0;
  bool dump = false;
  uint32_t states = 0;
  if (argc >= 7) napi_get_value_bool(env, argv[6], &dump);
  if (argc >= 8) napi_get_value_uint32(env, argv[7], &states);
  int rc = query(fd, family == 6, src, (uint16_t)sport, dst, (uint16_t)dport, dump, states, &inode, &uid, &state);
  if (rc < 0) return num(env, -rc);
  if (rc == 0) return js_null(env);
  napi_value arr;
  napi_create_array_with_length(env, 3, &arr);
  napi_set_element(env, arr, 0, num(env, inode));
  napi_set_element(env, arr, 1, num(env, uid));
  napi_set_element(env, arr, 2, num(env, state));
  return arr;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openIn", NULL, OpenIn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"query", NULL, Query, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  procscan_register(env, exports);
  malloc_tuning_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
