#!/bin/sh
# Runs the pagewire JMH microbenchmarks with JDK 25 and the flags in bin/jvm.options, from any directory.
# Builds perf/target/benchmarks.jar first when it is missing or older than the sources it is made from.
# Arguments go to JMH, e.g.:  perf/run-jmh.sh MergeableRx -prof gc     perf/run-jmh.sh -l     perf/run-jmh.sh -h
set -eu
perf_dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
repo=$(dirname -- "$perf_dir")
. "$repo/bin/select-jdk.sh"

jar=$perf_dir/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find "$repo/pom.xml" "$repo/perf" "$repo/dataplane" "$repo/config" \
    "$repo/control" "$repo/interop" -name target -prune -o -type f -newer "$jar" -print | head -n 1)" ]; then
  echo "run-jmh.sh: building $jar" >&2
  (cd "$repo" && ./mvnw -q -B -pl perf -am -DskipTests package)
fi

# The forks get the same file by absolute path through io.pagewire.perf.PerfMain (-Dpagewire.jvmOptions).
exec "$JAVA_HOME/bin/java" "@$repo/bin/jvm.options" "-Dpagewire.jvmOptions=$repo/bin/jvm.options" -jar "$jar" "$@"
