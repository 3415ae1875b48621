#!/bin/sh
# The unit as a package installs it: the command at $1 instead of /usr/local/bin/imdswatch,
# and the boot-watch generator at $2 (default: /usr/lib/systemd/system-generators, as in
# systemd/imdswatch.service).
# stdin: systemd/imdswatch.service; stdout: the packaged unit.
exec sed -e "s#/usr/local/bin/imdswatch#$1#g" \
  -e "s#/usr/lib/systemd/system-generators/imdswatch-generator#${2:-/usr/lib/systemd/system-generators/imdswatch-generator}#g"
