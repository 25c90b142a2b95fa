// The lite_tf benchmark app: `core` is the platform-free Java (statistics, the benchmark loop,
// options, samples, results JSON), `app` the Android activities and the LiteRT backend.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()  // LiteRT
        mavenCentral()
    }
}

rootProject.name = "lite_tf_demo"
include(":core", ":app")
