/*
 * mallocTune(trimThreshold, mmapThreshold): glibc's mallopt(M_TRIM_THRESHOLD) and, when
 * mmapThreshold > 0, mallopt(M_MMAP_THRESHOLD), for the calling process (every thread's arena).
 * Returns true when glibc took every value, false otherwise (another C library, a value
 * glibc refuses). Registered on the sockdiag addon; `imdswatch replay` calls it at start
 * (src/cli/memory-tuning.ts).
 *
 * Why: glibc gives the top of a heap back to the kernel once more than the trim threshold
 * (128 KiB, raised only by freeing large mmapped blocks) lies free there. V8's optimising
 * compiler allocates and frees several MiB per compilation on its worker threads, so each
 * compilation faulted its memory in again (6-10 us per page fault on the lab VM). A few
 * MiB kept free at the top of each arena are reused instead (docs/design.md#malloc-trim).
 */
#include <node_api.h>

#include <stdbool.h>
#include <stdint.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "malloc-tuning.h"

static napi_value MallocTune(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t trim = -1, mmap_at = 0;
  if (argc >= 1) napi_get_value_int64(env, argv[0], &trim);
  if (argc >= 2) napi_get_value_int64(env, argv[1], &mmap_at);
  bool ok = false;
#if defined(__GLIBC__)
  if (trim >= 0 && trim <= INT32_MAX && mmap_at >= 0 && mmap_at <= INT32_MAX) {
    ok = mallopt(M_TRIM_THRESHOLD, (int)trim) == 1;
    if (ok && mmap_at > 0) ok = mallopt(M_MMAP_THRESHOLD, (int)mmap_at) == 1;
  }
#else
  (void)trim;
  (void)mmap_at;
#endif
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

void malloc_tuning_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mallocTune", NULL, MallocTune, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
