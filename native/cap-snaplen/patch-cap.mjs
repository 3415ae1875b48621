#!/usr/bin/env node
/**
 * cap 0.2 hard-codes a 65 535-byte snaplen. In immediate mode libpcap then uses a
 * TPACKET_V2 ring of 64 KiB frames in 128 KiB blocks: a 16 MiB buffer holds only 256
 * packets and costs 32 MiB of resident memory. This patch makes cap read its snaplen
 * from IMDSWATCH_CAP_SNAPLEN (default unchanged: 65535), and rebuilds cap. imdswatch
 * sets 8000 (IMDS heads are < 8 KiB; bodies are never needed), so a frame fits one 8 KiB
 * block: 8x the packets per MiB. Idempotent; on any problem it warns and leaves cap as
 * it was (imdswatch then works with the larger ring).
 */
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const MARK = 'IMDSWATCH_CAP_SNAPLEN';
let capDir;
try {
  capDir = dirname(createRequire(import.meta.url).resolve('cap/package.json'));
} catch {
  console.warn('patch-cap: cap is not installed; nothing to patch');
  process.exit(0);
}
const src = join(capDir, 'src', 'binding.cc');
if (!existsSync(src)) {
  console.warn(`patch-cap: ${src} not found; cap keeps its 65535-byte snaplen`);
  process.exit(0);
}
const text = readFileSync(src, 'utf8');
// Each patch is applied once (its mark in the source), then cap is rebuilt; STAMP records a
// build with every patch of this version.
const STAMP = join(capDir, 'build', 'Release', '.imdswatch-patches-7');
const PATCHES = [
  {
    mark: MARK,
    what: 'snaplen from IMDSWATCH_CAP_SNAPLEN',
    from: 'pcap_set_snaplen(obj->pcap_handle, 65535)',
    to: `pcap_set_snaplen(obj->pcap_handle, getenv("${MARK}") ? atoi(getenv("${MARK}")) : 65535)`,
    head: '#include <stdlib.h>\n',
  },
  {
    // cap asks libpcap for the device's IPv4 network and prints "Warning: SIOCGIFADDR:
    // nfqueue:7: No such device - This may not actually work" when there is none. The SYN
    // gate's nfqueue device and the "any" device never have an address and work without
    // one (the netmask only matters for filters on broadcast addresses), so an operator read
    // it as "the gate is broken" for nothing (issue #10 item 7). Other devices keep the warning.
    mark: 'IMDSWATCH_QUIET_LOOKUPNET',
    what: 'no lookupnet warning for nfqueue/any',
    from: 'fprintf(stderr, "Warning: %s - This may not actually work\\n", errbuf);',
    to: '/* IMDSWATCH_QUIET_LOOKUPNET */ if (strncmp((char*)*device, "nfqueue", 7) != 0 && strcmp((char*)*device, "any") != 0) fprintf(stderr, "Warning: %s - This may not actually work\\n", errbuf);',
    head: '#include <string.h>\n',
  },
  {
    // the same for the system lane's NFLOG device (docs/design.md#system-lane), which has no address either
    mark: 'IMDSWATCH_QUIET_NFLOG',
    what: 'no lookupnet warning for nflog',
    from: 'if (strncmp((char*)*device, "nfqueue", 7) != 0 &&',
    to: '/* IMDSWATCH_QUIET_NFLOG */ if (strncmp((char*)*device, "nfqueue", 7) != 0 && strncmp((char*)*device, "nflog", 5) != 0 &&',
    head: '',
  },
  {
    // cap reads a device until it is empty in one poll callback. The SYN gate's queues and
    // the captures share one event loop: a flood's queue drained whole before the system
    // lane's queue was read cost root's SYN a whole drain (docs/design.md#system-lane). With
    // IMDSWATCH_CAP_BATCH=N set when a device is opened, one callback reads at most N
    // times; the poll is level-triggered, so the rest is read on the next turn, after the
    // other devices had theirs. Default (unset or 0): until empty, as before.
    mark: 'IMDSWATCH_CAP_BATCH',
    what: 'reads per poll callback from IMDSWATCH_CAP_BATCH',
    from: '        do {\n          packet_count = pcap_dispatch(obj->pcap_handle,\n                                       1,\n                                       Pcap::EmitPacket,\n                                       (u_char*)obj);\n        } while (packet_count > 0 && !obj->closing);',
    to: '        int imdswatch_n = 0; /* IMDSWATCH_CAP_BATCH */\n        do {\n          packet_count = pcap_dispatch(obj->pcap_handle,\n                                       1,\n                                       Pcap::EmitPacket,\n                                       (u_char*)obj);\n        } while (packet_count > 0 && !obj->closing && (obj->imdswatch_batch <= 0 || ++imdswatch_n < obj->imdswatch_batch));',
    head: '',
    extra: [
      ['    int fd;\n', '    int fd;\n    int imdswatch_batch;\n'],
      ['      obj->fd = pcap_get_selectable_fd(obj->pcap_handle);\n', '      obj->fd = pcap_get_selectable_fd(obj->pcap_handle);\n      obj->imdswatch_batch = getenv("IMDSWATCH_CAP_BATCH") ? atoi(getenv("IMDSWATCH_CAP_BATCH")) : 0;\n'],
    ],
  },
  {
    // cap opens every device in immediate mode (a TPACKET_V2 ring: one poll wake-up, one
    // callback turn of the event loop, per packet). With IMDSWATCH_CAP_TIMEOUT_MS=N (N > 0)
    // set when a device is opened, it is
    // opened buffered instead: libpcap then uses TPACKET_V3, whose blocks the kernel hands
    // over when full or N ms after they opened, so one wake-up reads every packet of those N
    // ms (src/live/capture.ts). Unset or 0: immediate mode, called directly.
    mark: 'IMDSWATCH_CAP_TIMEOUT_MS',
    what: 'buffered capture with IMDSWATCH_CAP_TIMEOUT_MS',
    from: '      if (pcap_set_timeout(obj->pcap_handle, 1000) != 0)\n        return Nan::ThrowError("Unable to set read timeout");\n\n#if __linux__\n      if (set_immediate_mode != nullptr)\n        set_immediate_mode(obj->pcap_handle, 1);\n#endif\n',
    to: '      int imdswatch_tov = getenv("IMDSWATCH_CAP_TIMEOUT_MS") ? atoi(getenv("IMDSWATCH_CAP_TIMEOUT_MS")) : 0; /* IMDSWATCH_CAP_TIMEOUT_MS */\n      if (pcap_set_timeout(obj->pcap_handle, imdswatch_tov > 0 ? imdswatch_tov : 1000) != 0)\n        return Nan::ThrowError("Unable to set read timeout");\n\n      if (pcap_set_immediate_mode(obj->pcap_handle, imdswatch_tov > 0 ? 0 : 1) != 0)\n        return Nan::ThrowError("Unable to set immediate mode");\n',
    head: '',
  },
  {
    // libpcap opens an NFLOG group and leaves the kernel's instance at its defaults: flush
    // to userspace when 100 packets wait (or sooner when the rule's --nflog-threshold is
    // lower: 1 flushed every packet, one event-loop wake-up each) or 1 s after the first.
    // With IMDSWATCH_CAP_NFLOG_FLUSH_MS=N set when an nflog:G device is opened, cap sets
    // the instance's flush timeout to N ms (in the kernel's 1/100 s, rounded up) and its
    // threshold to 256 packets, on libpcap's own socket (the instance answers only the
    // socket that bound it): one read then takes every packet of up to N ms, as many as
    // the kernel's batch buffer holds (~3.7 KiB; libpcap reads 128 + snaplen bytes at
    // once). No acknowledgement is asked: a refusal comes back as an error message that
    // libpcap's read skips, and the group keeps the defaults
    // (docs/design.md#lane-batching). Unset or 0: nothing sent, as before.
    mark: 'IMDSWATCH_CAP_NFLOG_FLUSH_MS',
    what: 'NFLOG flush timeout from IMDSWATCH_CAP_NFLOG_FLUSH_MS',
    from: '      if (pcap_setnonblock(obj->pcap_handle, 1, errbuf) == -1)\n        return Nan::ThrowError(errbuf);\n',
    to: '      if (strncmp((char*)*device, "nflog", 5) == 0 && getenv("IMDSWATCH_CAP_NFLOG_FLUSH_MS")) /* IMDSWATCH_CAP_NFLOG_FLUSH_MS */\n        imdswatch_nflog_flush(pcap_get_selectable_fd(obj->pcap_handle), (char*)*device, atoi(getenv("IMDSWATCH_CAP_NFLOG_FLUSH_MS")));\n\n      if (pcap_setnonblock(obj->pcap_handle, 1, errbuf) == -1)\n        return Nan::ThrowError(errbuf);\n',
    head: [
      '#include <stdint.h>',
      '#include <stdlib.h>',
      '#include <string.h>',
      '#include <sys/socket.h>',
      '#include <arpa/inet.h>',
      '#include <linux/netlink.h>',
      '#include <linux/netfilter/nfnetlink.h>',
      '#include <linux/netfilter/nfnetlink_log.h>',
      '/* IMDSWATCH_CAP_NFLOG_FLUSH_MS: each group of "nflog:G[,G...]" flushes after ms ms or 256 packets */',
      'static void imdswatch_nflog_flush(int fd, const char *dev, int ms) {',
      '  if (fd < 0 || ms <= 0) return;',
      '  const char *p = strchr(dev, \':\');',
      '  while (p != NULL && p[1] != 0) {',
      '    char *end;',
      '    unsigned long group = strtoul(p + 1, &end, 10);',
      '    if (end == p + 1 || group > 65535) return;',
      '    struct { struct nlmsghdr nlh; struct nfgenmsg nfg; struct nlattr ta; uint32_t timeout; struct nlattr qa; uint32_t qthresh; } m;',
      '    memset(&m, 0, sizeof m);',
      '    m.nlh.nlmsg_len = sizeof m;',
      '    m.nlh.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;',
      '    m.nlh.nlmsg_flags = NLM_F_REQUEST;',
      '    m.nfg.nfgen_family = AF_UNSPEC;',
      '    m.nfg.version = NFNETLINK_V0;',
      '    m.nfg.res_id = htons((uint16_t)group);',
      '    m.ta.nla_len = NLA_HDRLEN + sizeof(uint32_t);',
      '    m.ta.nla_type = NFULA_CFG_TIMEOUT;',
      '    m.timeout = htonl((uint32_t)((ms + 9) / 10));',
      '    m.qa.nla_len = NLA_HDRLEN + sizeof(uint32_t);',
      '    m.qa.nla_type = NFULA_CFG_QTHRESH;',
      '    m.qthresh = htonl(256);',
      '    struct sockaddr_nl to;',
      '    memset(&to, 0, sizeof to);',
      '    to.nl_family = AF_NETLINK;',
      '    sendto(fd, &m, sizeof m, 0, (struct sockaddr *)&to, sizeof to);',
      '    p = strchr(end, \',\');',
      '  }',
      '}',
      '',
    ].join('\n'),
  },
  {
    // cap asserted that a poll callback never reports an error. libuv reports POLLERR as
    // UV_EBADF and stops the watcher; a netlink socket gets POLLERR when the kernel could not
    // queue a message because the socket's buffer was full (ENOBUFS: the NFQUEUE gate or the
    // lane's NFLOG group under a flood while the event loop was busy), so a flood aborted the
    // daemon (test/robustness/live-floods.test.ts, test/live/capture-poll-error.test.ts).
    // Now the device is read (libpcap consumes the error: it counts ENOBUFS
    // and reads on) and watched again; after 1 000 errors in a row without a packet read the
    // device is given up (the gate's SYN check then counts what it misses: verdict UNKNOWN).
    // docs/design.md#capture-poll-errors
    mark: 'IMDSWATCH_POLL_ERROR',
    what: 'a poll error is read past, not an abort',
    from: '    static void cb_packets(uv_poll_t* handle, int status, int events) {\n      assert(status == 0);\n      Pcap *obj = (Pcap*)handle->data;\n      int packet_count;\n',
    to: [
      '    static void cb_packets(uv_poll_t* handle, int status, int events) {',
      '      Pcap *obj = (Pcap*)handle->data;',
      '      int packet_count;',
      '      if (status != 0) { /* IMDSWATCH_POLL_ERROR */',
      '        if (obj->closing)',
      '          return obj->cleanup();',
      '        if (++imdswatch_poll_error_run > 1000) {',
      '          if (imdswatch_poll_error_run == 1001) fprintf(stderr, "imdswatch: capture device keeps failing (%s); it is no longer read\\n", uv_strerror(status));',
      '          return;',
      '        }',
      '        uv_poll_start(handle, UV_READABLE, cb_packets);',
      '        events = UV_READABLE;',
      '      }',
      '',
    ].join('\n'),
    extra: [
      [
        '        } while (packet_count > 0 && !obj->closing && (obj->imdswatch_batch <= 0 || ++imdswatch_n < obj->imdswatch_batch));\n',
        '          if (packet_count > 0) imdswatch_poll_error_run = 0; /* IMDSWATCH_POLL_ERROR */\n        } while (packet_count > 0 && !obj->closing && (obj->imdswatch_batch <= 0 || ++imdswatch_n < obj->imdswatch_batch));\n',
      ],
    ],
    head: [
      '#include <stdio.h>',
      '/* IMDSWATCH_POLL_ERROR: poll errors in a row (any device) without a packet read */',
      'static unsigned long imdswatch_poll_error_run = 0;',
      '',
    ].join('\n'),
  },
];
let patched = text;
const applied = [];
for (const p of PATCHES) {
  if (patched.includes(p.mark)) continue;
  if (!patched.includes(p.from) || (p.extra ?? []).some(([from]) => !patched.includes(from))) {
    console.warn(`patch-cap: unexpected cap source; not applied: ${p.what}`);
    continue;
  }
  patched = p.head + patched.replace(p.from, p.to);
  for (const [from, to] of p.extra ?? []) patched = patched.replace(from, to);
  applied.push(p.what);
}
if (applied.length === 0 && existsSync(STAMP)) process.exit(0);
// node-gyp rebuild removes build/ before it builds: a rebuild that fails (node-gyp not on PATH
// outside npm, no node headers offline) left no cap.node at all, and rebuilding the original
// source fails the same way. The working build is kept aside and put back on failure.
const build = join(capDir, 'build');
const kept = join(capDir, 'build.imdswatch-kept');
rmSync(kept, { recursive: true, force: true });
if (existsSync(join(build, 'Release', 'cap.node'))) cpSync(build, kept, { recursive: true });
if (patched !== text) writeFileSync(src, patched);
const r = spawnSync('node-gyp', ['rebuild', '--silent'], { cwd: capDir, stdio: 'inherit', shell: false });
if (r.status !== 0) {
  writeFileSync(src, text);
  const why = r.error ? r.error.message : `exit ${r.status}`;
  if (existsSync(kept)) {
    rmSync(build, { recursive: true, force: true });
    renameSync(kept, build);
    console.warn(`patch-cap: rebuilding cap failed (${why}); its source and its previous build are restored`);
    process.exit(0);
  }
  const again = spawnSync('node-gyp', ['rebuild', '--silent'], { cwd: capDir, stdio: 'inherit' });
  console.warn(`patch-cap: rebuilding cap failed (${why}); restored the original (${again.status === 0 ? 'rebuilt' : 'rebuild failed too'})`);
  process.exit(0);
}
rmSync(kept, { recursive: true, force: true });
writeFileSync(join(capDir, 'build', 'Release', '.imdswatch-snaplen'), 'patched\n');
writeFileSync(STAMP, 'patched\n');
console.log(`patch-cap: cap rebuilt (${PATCHES.map((p) => p.what).join('; ')})`);
