#!/usr/bin/env bash
# Runs every test of vhostnet. Installs what the tests need when it is missing (Debian packages;
# Maven fetches its own artifacts), then builds and runs all modules' tests, the kernel-backend
# ones included: on a host without /dev/vhost-net they run inside the test VM
# (integration-tests/testvm), which this command builds on first use.
# Extra arguments go to Maven, e.g. ./test.sh -pl eventfd -am
set -euo pipefail
cd "$(dirname "$0")"

packages=(gcc libc6-dev linux-libc-dev iproute2 qemu-system-x86 busybox-static cpio maven dpdk-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# vhost-net tests run on the host where the module can be loaded; elsewhere in the test VM.
modprobe vhost_net 2>/dev/null || true

exec mvn -B verify "$@"
