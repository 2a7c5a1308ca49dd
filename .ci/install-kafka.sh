#!/usr/bin/env bash
# Installs Apache Kafka 4.1.2's jars (the broker, its tools, Java's kafka-clients, log4j2) for the
# test suite's BrokerKind::Kafka: Maven resolves testkit/kafka/pom.xml from Maven Central (strict
# checksums), and every jar is then checked against testkit/kafka/jars.sha256, so the classpath
# is pinned down to the transitive dependencies. Prints the jar directory. Idempotent: a verified
# directory already in the cache is reused. Needs java (17+) and mvn.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.1.2
dest="${GREGOR_CACHE_DIR:-$HOME/.cache/gregor}/kafka-$VERSION"
libs="$dest/libs"
manifest="$PWD/testkit/kafka/jars.sha256"

verified() {
  [ -f "$libs/.complete" ] && (cd "$libs" && sha256sum --check --status --strict "$manifest") &&
    [ "$(ls "$libs"/*.jar | wc -l)" -eq "$(wc -l <"$manifest")" ]
}

if verified; then
  echo "$libs"
  exit 0
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "install-kafka: $tool is required" >&2; exit 1; }
done
mkdir -p "$dest"
tmp=$(mktemp -d "$dest/libs.partial.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mvn -B -q -C -f testkit/kafka/pom.xml \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DoutputDirectory="$tmp" -DincludeScope=runtime >&2
(cd "$tmp" && sha256sum --check --quiet --strict "$manifest") >&2 ||
  { echo "install-kafka: the resolved jars differ from testkit/kafka/jars.sha256" >&2; exit 1; }
touch "$tmp/.complete"
rm -rf "$libs"
mv "$tmp" "$libs"
trap - EXIT
echo "$libs"
