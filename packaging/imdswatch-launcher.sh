#!/bin/sh
# imdswatch, as shipped in a release tree: runs with the Node.js bundled next to it.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../node/bin/node" "$here/../dist/cli/main.js" "$@"
