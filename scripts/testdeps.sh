#!/usr/bin/env bash
# Installs the real servers the test suite runs against, into .cache/ (git-ignored):
#   .cache/bin/influxd                InfluxDB 1.8.10, built from the Go module proxy
#   .cache/kafka/libs/*.jar           Apache Kafka 4.1.1 (broker + tools) from Maven Central
#   .cache/elasticsearch/libs/*.jar   Elasticsearch 7.10.2 (org.codelibs cluster runner) from Maven Central
#   .cache/elasticsearch/classes/     scripts/testdeps/TributaryElasticsearchNode.java, compiled
# Downloads are also cached in Go's module cache and Maven's ~/.m2. Each part is
# skipped when its stamp matches its inputs, so a warm run takes well under a second.
# Needs go, java 17 (with javac) and mvn on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache="$root/.cache"
INFLUXDB_VERSION=v1.8.10
mkdir -p "$cache"

# stamp NAME INPUT...: a hash of the inputs, to tell whether a part is up to date.
stamp() { local name=$1; shift; cat "$@" | sha256sum | cut -d' ' -f1 | sed "s/^/$name /"; }
fresh() { [ -f "$cache/$1.stamp" ] && [ "$(cat "$cache/$1.stamp")" = "$2" ]; }
timed() { local start=$SECONDS; "$@"; echo "testdeps: $* took $((SECONDS - start))s"; }

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "testdeps: $tool is not on PATH" >&2; exit 1; }
  done
}

influxdb() {
  local want="influxd $INFLUXDB_VERSION"
  if fresh influxd "$want" && [ -x "$cache/bin/influxd" ]; then return; fi
  need go
  echo "testdeps: building influxd $INFLUXDB_VERSION (about two minutes cold on 2 cores)"
  GOBIN="$cache/bin" GOFLAGS=-mod=mod go install "github.com/influxdata/influxdb/cmd/influxd@$INFLUXDB_VERSION"
  echo "$want" >"$cache/influxd.stamp"
}

# maven_libs NAME: copies scripts/testdeps/NAME-pom.xml's runtime dependencies into .cache/NAME/libs.
maven_libs() {
  local name=$1 pom="scripts/testdeps/$1-pom.xml"
  local want; want=$(stamp "$name" "$pom")
  if fresh "$name" "$want" && [ -d "$cache/$name/libs" ]; then return; fi
  need java mvn
  echo "testdeps: fetching $name jars from Maven Central"
  rm -rf "$cache/$name/libs"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DoutputDirectory="$cache/$name/libs" -DincludeScope=runtime 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' # Maven 3.8 prints colour resets even in batch mode
  echo "$want" >"$cache/$name.stamp"
}

elasticsearch_main() {
  local src=scripts/testdeps/TributaryElasticsearchNode.java
  local want; want=$(stamp es-main "$src" scripts/testdeps/elasticsearch-pom.xml)
  if fresh es-main "$want" && [ -f "$cache/elasticsearch/classes/TributaryElasticsearchNode.class" ]; then return; fi
  need javac
  rm -rf "$cache/elasticsearch/classes"
  mkdir -p "$cache/elasticsearch/classes"
  javac -d "$cache/elasticsearch/classes" -cp "$cache/elasticsearch/libs/*" "$src"
  echo "$want" >"$cache/es-main.stamp"
}

# The influxd build is CPU-bound and the Maven fetches are network-bound: overlap them.
timed influxdb &
influxdb_pid=$!
timed maven_libs kafka
timed maven_libs elasticsearch
timed elasticsearch_main
wait "$influxdb_pid"
