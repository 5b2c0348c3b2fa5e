#!/usr/bin/env bash
# Fetch Apache Kafka (kafka_2.13 + runtime dependencies) from Maven Central into a git-ignored cache, once:
#   var/kafka/<version>/libs/*.jar and var/kafka/<version>/SHA256SUMS (checked on every run, so a corrupt
#   or half-written cache is fetched again instead of failing later with a JVM stack trace).
# The version is the one in java/kafka-broker/pom.xml (kafka.version). Used by `make kafka`.
set -euo pipefail
cd "$(dirname "$0")/.."
POM=java/kafka-broker/pom.xml
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
DEST=var/kafka/$VERSION
LIBS=$DEST/libs
SUMS=$DEST/SHA256SUMS

fail() { echo "make kafka: $*" >&2; exit 1; }

if [ -f "$SUMS" ] && [ -f "$LIBS/kafka_2.13-$VERSION.jar" ]; then
    if (cd "$LIBS" && sha256sum --quiet --status -c ../SHA256SUMS) \
        && [ "$(ls "$LIBS" | wc -l)" = "$(wc -l < "$SUMS")" ]; then
        exit 0  # cached and intact
    fi
    echo "make kafka: the jar cache $LIBS is corrupt or incomplete; fetching it again" >&2
fi
command -v mvn >/dev/null 2>&1 || fail "Maven (mvn) is not installed: apt-get install maven openjdk-17-jre-headless, then run make kafka again"
command -v java >/dev/null 2>&1 || fail "Java is not installed: apt-get install openjdk-17-jre-headless, then run make kafka again"

echo "make kafka: fetching Apache Kafka $VERSION from Maven Central into $LIBS (once)"
rm -rf "$DEST"
TMP=$DEST.partial
rm -rf "$TMP"
mkdir -p "$TMP"
LOG=$(mktemp)
if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$PWD/$TMP/libs" >"$LOG" 2>&1; then
    rm -rf "$TMP"
    grep -m3 -E "ERROR|Could not" "$LOG" >&2 || tail -5 "$LOG" >&2
    rm -f "$LOG"
    fail "could not fetch org.apache.kafka:kafka_2.13:$VERSION from Maven Central (is it reachable? a proxy in ~/.m2/settings.xml?). Fix the network and run make kafka again; nothing was cached."
fi
rm -f "$LOG"
[ -f "$TMP/libs/kafka_2.13-$VERSION.jar" ] || { rm -rf "$TMP"; fail "Maven finished but kafka_2.13-$VERSION.jar is missing; run make kafka again"; }
(cd "$TMP/libs" && sha256sum -- *.jar > ../SHA256SUMS)
mv "$TMP" "$DEST"  # atomic: a cache is either complete or absent
echo "make kafka: Apache Kafka $VERSION cached in $LIBS ($(ls "$LIBS" | wc -l) jars, $(du -sh "$LIBS" | cut -f1))"
