#!/usr/bin/env bash
# Runs every test of vhostnet. Installs what the tests need when it is missing (Debian packages;
# Maven fetches its own artifacts), then builds and runs all modules' tests, the kernel-backend
# ones included: on a host without /dev/vhost-net they run inside the test VM
# (integration-tests/testvm), which this command builds on first use.
# Then the host tests again on JDK 25 (VHOSTNET_JDK25, default Temurin's /usr/lib/jvm/temurin-25-jdk-amd64;
# VHOSTNET_JDK25=skip leaves that pass out); the test VM's tests run once, in the first pass.
# Without arguments, then the library as a VMM gets it: examples/consumer/run.sh deploys the API
# artifacts to a repository under target/ and builds and runs a small consumer from them alone.
# Extra arguments go to Maven, both passes, e.g. ./test.sh -pl eventfd -am (no consumer then)
set -euo pipefail
cd "$(dirname "$0")"

packages=(gcc libc6-dev linux-libc-dev iproute2 qemu-system-x86 busybox-static cpio maven dpdk-dev acpica-tools librsvg2-bin)
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

# The bench's vhost-user peers test runs two dpdk-testpmd at 256 MiB of 2 MiB huge pages each:
# reserve what is missing, as root, for both passes, and give it back at the end.
hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
hugepages_free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
hugepages_reserved=0
give_back_hugepages() {
  if ((hugepages_reserved)); then
    echo "$hugepages_before" >/proc/sys/vm/nr_hugepages
    hugepages_reserved=0
  fi
}
if ((EUID == 0 && hugepages_free < 256)); then
  hugepages_wanted=$((hugepages_before + 256 - hugepages_free))
  echo "$hugepages_wanted" >/proc/sys/vm/nr_hugepages
  # The kernel gives fewer when memory is fragmented: compact it and ask again, once.
  if (($(cat /proc/sys/vm/nr_hugepages) < hugepages_wanted)); then
    echo 1 >/proc/sys/vm/compact_memory 2>/dev/null || true
    echo "$hugepages_wanted" >/proc/sys/vm/nr_hugepages
  fi
  echo "test.sh: huge pages $(cat /proc/sys/vm/nr_hugepages) of the $hugepages_wanted asked for (was $hugepages_before)"
  hugepages_reserved=1
  trap give_back_hugepages EXIT
fi

jdk25="${VHOSTNET_JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}"
if [[ "$jdk25" != skip && ! -x "$jdk25/bin/java" ]]; then
  echo "test.sh: no JDK 25 at $jdk25: install Temurin 25 there, set VHOSTNET_JDK25 to another, or VHOSTNET_JDK25=skip" >&2
  exit 1
fi

mvn -B verify "$@"
if (($# == 0)); then
  examples/consumer/run.sh
fi
if [[ "$jdk25" != skip ]]; then
  echo "test.sh: the host tests again on $("$jdk25/bin/java" -version 2>&1 | head -1)"
  # The format was checked by the first pass (and the formatter picks its engine by JDK).
  JAVA_HOME="$jdk25" mvn -B verify -DskipVmTests -Dspotless.check.skip=true "$@"
fi
