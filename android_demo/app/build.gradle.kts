plugins {
    id("com.android.application")
}

android {
    namespace = "dev.litetf.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.litetf.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
}

dependencies {
    implementation(project(":core"))
    // LiteRT (formerly TensorFlow Lite) from Google's Maven repository: the interpreter with
    // XNNPACK, and the GPU delegate. 1.4.1: the release whose sources (tag v1.4.1 of
    // github.com/google-ai-edge/LiteRT) the Java API calls were checked against.
    implementation("com.google.ai.edge.litert:litert:1.4.1")
    implementation("com.google.ai.edge.litert:litert-gpu:1.4.1")
}
