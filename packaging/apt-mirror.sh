#!/usr/bin/env bash
# Prints the Debian archive this machine's apt uses (the first `deb` source whose URI ends in
# /debian, else the first that is not a security or updates archive), read from
# /etc/apt/sources.list, /etc/apt/sources.list.d/*.list and deb822 *.sources files.
# IMDSWATCH_DEBIAN_MIRROR overrides it. The repository names no mirror of its own: the
# release build, the Debian roots and the OCI image fetch from what apt here is set up to use.
#
#   packaging/apt-mirror.sh            prints e.g. http://HOST/debian (no trailing slash)
#   source packaging/apt-mirror.sh     defines apt_mirror (prints, or exits 2 with one line)
set -euo pipefail

apt_mirror_uris() { # every URI of an enabled `deb` source, in apt's reading order
  local dir=${IMDSWATCH_APT_DIR:-/etc/apt} f
  for f in "$dir/sources.list" "$dir"/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    # one-line format: deb [options] URI suite components...
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } print $i }' "$f"
  done
  for f in "$dir"/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822: stanzas separated by blank lines; Types must hold deb; Enabled: no skips it
    awk 'BEGIN { RS = ""; FS = "\n" }
      { deb = 0; on = 1; uris = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^Enabled:[ \t]*no/) on = 0
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
        }
        if (deb && on) { n = split(uris, u, /[ \t]+/); for (j = 1; j <= n; j++) if (u[j] != "") print u[j] } }' "$f"
  done
}

apt_mirror() {
  if [[ -n ${IMDSWATCH_DEBIAN_MIRROR:-} ]]; then printf '%s\n' "${IMDSWATCH_DEBIAN_MIRROR%/}"; return; fi
  local uris pick
  uris=$(apt_mirror_uris | sed 's#/*$##')
  pick=$(grep -m1 -E '/debian$' <<<"$uris" || grep -m1 -vE 'security|updates' <<<"$uris" || true)
  if [[ -z $pick ]]; then
    echo "apt-mirror: no Debian archive among apt's sources in ${IMDSWATCH_APT_DIR:-/etc/apt} (set IMDSWATCH_DEBIAN_MIRROR to one)" >&2
    exit 2
  fi
  printf '%s\n' "$pick"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then apt_mirror; fi
