#!/bin/sh
# The unit as a package installs it: the command at $1 instead of /usr/local/bin/imdswatch.
# stdin: systemd/imdswatch.service; stdout: the packaged unit.
exec sed -e "s#/usr/local/bin/imdswatch#$1#g"
