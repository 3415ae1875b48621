#ifndef PROCDIRS_H
#define PROCDIRS_H
#include <stdint.h>

int procdirs_root(const char *root);
int procdirs_loadavg(void);
int procdirs_find(int32_t pid);
void procdirs_put(int32_t pid, int fd);
void procdirs_drop(int32_t pid);

#endif
