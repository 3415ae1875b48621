/* malloc-tuning.c: glibc's trim and mmap thresholds (registered on the sockdiag addon) */
#ifndef MALLOC_TUNING_H
#define MALLOC_TUNING_H
#include <node_api.h>
void malloc_tuning_register(napi_env env, napi_value exports);
#endif
