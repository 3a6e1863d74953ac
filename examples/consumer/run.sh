#!/usr/bin/env bash
# Proves the library can be used from its published artifacts alone (issue 18): deploys the API
# modules with their sources and javadoc jars (-Prelease) and the BOM into target/consumer/repo, a
# file repository in this checkout, checks what was published, builds examples/consumer against
# it, and runs the consumer: as root it creates a tap and starts an emulated device. Both builds
# share a fresh local repository, target/consumer/m2 (a deploy caches the target's metadata in its
# local repository, so the shared ~/.m2 is only read, as a release-only file repository:
# settings.xml); the deploy puts no vhostnet jar in it (install is skipped; checked), so the
# consumer gets vhostnet from the deployed repository alone.
# test.sh runs this after the tests; extra arguments go to the deploy's Maven.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$PWD/target/consumer"
rm -rf "$out" examples/consumer/target
mkdir -p "$out"
api=bom,sys,memtable,eventfd,tap,virtio,vhostnet-ctl,driver,vhostuser,virtio-net,broker

export VHOSTNET_REPO="file://$out/repo" VHOSTNET_CACHE="file://$HOME/.m2/repository"
settings="$PWD/examples/consumer/settings.xml"

echo "consumer: deploying the API modules to $out/repo"
mvn -B -q -s "$settings" -Dmaven.repo.local="$out/m2" -Prelease -DskipTests -Dmaven.install.skip=true \
    -pl "$api" -am deploy -DaltDeploymentRepository="consumer::file://$out/repo" "$@"

repo="$out/repo/dev/vhostnet"
for a in vhostnet-ctl vhostnet-tap vhostnet-sys; do
  for kind in "" -sources -javadoc; do
    ls "$repo/$a"/0.1.0-SNAPSHOT/"$a"-0.1.0-*"$kind".jar >/dev/null \
      || { echo "consumer: $a has no ${kind:-main} jar in $repo" >&2; exit 1; }
  done
done
for a in vhostnet-testkit vhostnet-bench vhostnet-tools vhostnet-integration-tests; do
  [[ ! -e "$repo/$a" ]] || { echo "consumer: $a was deployed: it is not API" >&2; exit 1; }
done
ls "$repo/vhostnet-bom/0.1.0-SNAPSHOT/"vhostnet-bom-0.1.0-*.pom >/dev/null
if [[ -n "$(find "$out/m2" -path '*/dev/vhostnet/*' -name '*.jar' -print -quit)" ]]; then
  echo "consumer: the deploy left vhostnet jars in $out/m2: the consumer would not prove anything" >&2
  exit 1
fi

echo "consumer: building examples/consumer from the deployed artifacts"
mvn -B -q -s "$settings" -Dmaven.repo.local="$out/m2" -f examples/consumer/pom.xml package

if [[ $(id -u) != 0 || ! -c /dev/net/tun ]]; then
  echo "consumer: built; not run (it needs root and /dev/net/tun for its tap)"
  exit 0
fi
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
output="$("$java" --enable-native-access=ALL-UNNAMED -cp "examples/consumer/target/classes:examples/consumer/target/lib/*" example.Consumer)"
echo "$output"
for line in "backend  EMULATED" "state    RUNNING" "stopped  STOPPED" "closed"; do
  grep -q "^$line" <<<"$output" || { echo "consumer: no '$line' in its output" >&2; exit 1; }
done
echo "consumer: 1 passed, 0 failed"
