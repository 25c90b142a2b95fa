#!/usr/bin/env bash
# Compiles the platform-free Java core (javac 17, Java 11 language level as the app uses) and runs
# its JUnit 4 tests with the jars Debian ships: apt-get install junit4 libandroid-json-java
# (org.json as Android itself provides it). Used by .ci/run; on a machine with the Android SDK,
# ./gradlew :core:test runs the same tests.
#   test.sh              compile into build/javac and run the tests
#   test.sh --compile-only DIR   compile main and test classes into DIR (for the Python tests)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jars="${JAVA_LIBS:-/usr/share/java}"
classpath="$jars/junit4.jar:$jars/hamcrest-core.jar:$jars/com.android.json.jar"
for jar in ${classpath//:/ }; do
  if [ ! -f "$jar" ]; then
    echo "android_demo/core/test.sh: error: $jar is missing: apt-get install junit4 libandroid-json-java" >&2
    exit 2
  fi
done
out="$here/build/javac"
if [ "${1:-}" = "--compile-only" ]; then out="$2"; fi
rm -rf "$out" && mkdir -p "$out"
# shellcheck disable=SC2046
javac --release 11 -Xlint:all -Werror -encoding UTF-8 -cp "$classpath" -d "$out" \
  $(find "$here/src/main/java" "$here/src/test/java" -name '*.java' | sort)
if [ "${1:-}" = "--compile-only" ]; then exit 0; fi
tests=$(cd "$here/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
# shellcheck disable=SC2086
java -Dlitetf.schema="$here/../../lite_tf/deploy/benchmark/schema.json" -cp "$out:$classpath" \
  org.junit.runner.JUnitCore $tests
