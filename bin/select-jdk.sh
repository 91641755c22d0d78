# Sourced (POSIX sh) by ./mvnw and ./pagewire: points JAVA_HOME at a JDK 25 or newer.
# A JAVA_HOME that already holds JDK >= 25 wins; otherwise the newest JDK >= 25 under /usr/lib/jvm
# (Debian/Ubuntu/Temurin layout) or /opt/java is taken. The machine's default `java` may be older:
# pagewire needs the JDK 25 FFM API and class-file level, so an older one is never used silently.

pagewire_jdk_feature() {
  # Prints the feature release of the JDK at $1 (from its `release` file), or nothing.
  [ -r "$1/release" ] && [ -x "$1/bin/java" ] || return 0
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release"
}

pagewire_select_jdk() {
  pagewire_required=25
  if [ -n "${JAVA_HOME-}" ]; then
    v=$(pagewire_jdk_feature "$JAVA_HOME")
    [ -n "$v" ] && [ "$v" -ge "$pagewire_required" ] && return 0
  fi
  best= best_v=0
  # The caller may run with `set -f` (mvnw does): globbing is needed here, so switch it on for the loop.
  case $- in *f*) pagewire_noglob=1; set +f ;; *) pagewire_noglob= ;; esac
  for d in /usr/lib/jvm/* /opt/java/* /opt/jdk*; do
    [ -d "$d" ] || continue
    v=$(pagewire_jdk_feature "$d")
    [ -n "$v" ] || continue
    if [ "$v" -ge "$pagewire_required" ] && [ "$v" -gt "$best_v" ]; then best=$d best_v=$v; fi
  done
  [ -z "$pagewire_noglob" ] || set -f
  if [ -z "$best" ]; then
    echo "pagewire needs a JDK $pagewire_required or newer and found none (JAVA_HOME=${JAVA_HOME-unset}, searched /usr/lib/jvm and /opt)." >&2
    echo "Install one, for example Debian's openjdk-25-jdk or Eclipse Temurin 25, or set JAVA_HOME to it." >&2
    exit 1
  fi
  JAVA_HOME=$best
  export JAVA_HOME
}

pagewire_select_jdk
