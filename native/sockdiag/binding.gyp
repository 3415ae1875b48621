{
  'targets': [
    {
      'target_name': 'sockdiag',
      'sources': ['src/sockdiag.c', 'src/procscan.c', 'src/procdirs.c', 'src/malloc-tuning.c'],
      'cflags': ['-std=gnu11', '-Wall', '-Wextra', '-O2'],
      'defines': ['NAPI_VERSION=8'],
      'libraries': ['-lpthread'],
    },
  ],
}
