#!/usr/bin/env bash
# Regenerates the Strimzi CRDs the manifest tests validate KafkaTopic/KafkaUser against, from
# Strimzi's own artefacts on Maven Central: io.strimzi:api (the annotated model classes) and
# io.strimzi:crd-generator (the generator Strimzi builds its install files with). Needs java + mvn.
#   tests/deploy/crds/generate.sh [STRIMZI_VERSION]   (default 0.45.0)
set -euo pipefail
version="${1:-0.45.0}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$version</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
(cd "$work" && mvn -q dependency:build-classpath -Dmdep.outputFile="$work/cp.txt")
java -cp "$(cat "$work/cp.txt")" io.strimzi.crdgenerator.CrdGenerator --yaml \
    "io.strimzi.api.kafka.model.topic.KafkaTopic=$here/kafkatopic.yaml" \
    "io.strimzi.api.kafka.model.user.KafkaUser=$here/kafkauser.yaml"
echo "$version" >"$here/STRIMZI_VERSION"
