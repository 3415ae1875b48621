/* procscan.c: the socket-owner search over /proc/PID/fd (registered on the sockdiag addon) */
#ifndef PROCSCAN_H
#define PROCSCAN_H
#include <node_api.h>
void procscan_register(napi_env env, napi_value exports);
#endif
