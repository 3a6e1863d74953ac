#!/usr/bin/env bash
# How fast the vhostnet command starts: the median wall time of N runs (default 10) of
# `vhostnet --version`, `vhostnet probe` and (as root) `vhostnet tap create` + `tap delete`, beside
# `ip tuntap add` + `del` for scale, with the CPU time (user + system) of the same runs, which a
# loaded machine inflates less than the wall time; a Markdown table on stdout (docs/BENCHMARKS.md).
# Run it after a build (./vhostnet --rebuild --version); the first call after a build makes the
# class-data-sharing archive and is not counted. VHOSTNET=path measures another launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10}"
vhostnet="${VHOSTNET:-./vhostnet}"
"$vhostnet" --version >/dev/null   # builds if needed, makes the archive: not timed

median() {   # median() N CMD…: the medians of N runs of CMD: wall time, CPU time (ms)
  local runs=$1 i r
  shift
  local wall=() cpu=()
  for ((i = 0; i < runs; i++)); do
    r=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 )
    wall+=($(awk '{printf "%d", $1 * 1000}' <<<"$r"))
    cpu+=($(awk '{printf "%d", ($2 + $3) * 1000}' <<<"$r"))
  done
  printf '%s | %s' "$(mid "${wall[@]}")" "$(mid "${cpu[@]}")"
}
mid() { printf '%s\n' "$@" | sort -n | awk '{t[NR] = $1} END {m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; printf "%d ms (%d–%d)", m, t[1], t[NR]}'; }

tap_cycle() { "$vhostnet" tap create vnstart0 && "$vhostnet" tap delete vnstart0; }
ip_cycle() { ip tuntap add dev vnstart0 mode tap && ip tuntap del dev vnstart0 mode tap; }

echo "| command | wall, median of $n (min–max) | CPU, user + system |"
echo "|---|---|---|"
echo "| \`vhostnet --version\` | $(median "$n" "$vhostnet" --version) |"
echo "| \`vhostnet probe\` | $(median "$n" "$vhostnet" probe) |"
if [[ $(id -u) == 0 ]]; then
  echo "| \`vhostnet tap create\` + \`tap delete\` (two calls) | $(median "$n" tap_cycle) |"
  echo "| \`ip tuntap add\` + \`del\` (two calls) | $(median "$n" ip_cycle) |"
fi
echo
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs; $("${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | head -1)"
