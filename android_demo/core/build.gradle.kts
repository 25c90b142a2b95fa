// Plain Java, no Android: built and tested here by ./gradlew :core:test, and on machines without
// the Android SDK by core/test.sh (javac 17 and Debian's junit4, as lite_tf's CI does).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    compileOnly("org.json:json:20240303")  // Android itself provides org.json
    testImplementation("org.json:json:20240303")
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // The results schema the Python side validates phone results with.
    systemProperty("litetf.schema", rootProject.file("../lite_tf/deploy/benchmark/schema.json").absolutePath)
}
