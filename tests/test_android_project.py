"""android_demo/ as far as it can be checked without the Android SDK: the Gradle bootstrap script,
and that the project's files agree with each other and with the host side (resource ids, strings,
the activity python -m export.phone starts, the extras it sends)."""

import hashlib
import os
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile

from conftest import ROOT
from lite_tf.deploy import phone

DEMO = os.path.join(ROOT, "android_demo")
ANDROID = "{http://schemas.android.com/apk/res/android}"


def read(*parts):
    with open(os.path.join(DEMO, *parts)) as f:
        return f.read()


def fake_gradle(tmp_path, sha256=None):
    """A project with ./gradlew and a properties file pinning a fake Gradle zip (file:// URL)."""
    archive = tmp_path / "gradle-8.10.2-bin.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("gradle-8.10.2/bin/gradle")
        info.external_attr = 0o755 << 16
        z.writestr(info, '#!/bin/sh\necho "fake gradle: $*"\n')
    project = tmp_path / "project"
    (project / "gradle" / "wrapper").mkdir(parents=True)
    (project / "gradlew").write_text(read("gradlew"))
    (project / "gradlew").chmod(0o755)
    (project / "gradle" / "wrapper" / "gradle-wrapper.properties").write_text(
        f"distributionUrl=file\\://{archive}\n"
        f"distributionSha256Sum={sha256 or hashlib.sha256(archive.read_bytes()).hexdigest()}\n")
    return project, archive


def gradlew(project, home, *args):
    return subprocess.run([str(project / "gradlew"), *args], capture_output=True, text=True,
                          cwd=project, env=dict(os.environ, GRADLE_USER_HOME=str(home)))


def test_gradlew_downloads_the_pinned_gradle_once_and_runs_it(tmp_path):
    project, archive = fake_gradle(tmp_path)
    home = tmp_path / "home"
    proc = gradlew(project, home, "assembleDebug")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "fake gradle: assembleDebug\n"
    assert f"Downloading file://{archive}" in proc.stderr
    archive.unlink()  # the second run uses the unpacked copy
    proc = gradlew(project, home, ":core:test", "--no-daemon")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "fake gradle: :core:test --no-daemon\n", "")
    assert os.listdir(home / "wrapper" / "lite_tf") == ["gradle-8.10.2-bin"]  # no download leftovers


def test_gradlew_refuses_a_download_with_the_wrong_checksum(tmp_path):
    project, _ = fake_gradle(tmp_path, sha256="0" * 64)
    home = tmp_path / "home"
    proc = gradlew(project, home, "assembleDebug")
    assert proc.returncode == 1 and proc.stdout == ""
    assert re.search(r"gradlew: error: .* has SHA-256 [0-9a-f]{64}, expected 0{64}: not using it",
                     proc.stderr)
    assert os.listdir(home / "wrapper" / "lite_tf") == []


def test_the_pinned_gradle_is_checked_by_sha256():
    properties = read("gradle", "wrapper", "gradle-wrapper.properties")
    assert re.search(r"^distributionUrl=https\\://services\.gradle\.org/distributions/gradle-[\d.]+-bin\.zip$",
                     properties, re.M)
    assert re.search(r"^distributionSha256Sum=[0-9a-f]{64}$", properties, re.M)


# LiteRT releases whose tags were seen in github.com/google-ai-edge/LiteRT (v1.4.0, v1.4.1) and
# whose Java API the app was checked against; 1.4.2 could not be confirmed.
CONFIRMED_LITERT = {"1.4.0", "1.4.1"}


def test_gradle_project_has_what_assemble_debug_needs():
    settings = read("settings.gradle.kts")
    assert 'include(":core", ":app")' in settings and "google()" in settings
    app = read("app", "build.gradle.kts")
    assert int(re.search(r"minSdk = (\d+)", app).group(1)) >= 24
    assert re.search(r'namespace = "(.+)"', app).group(1) == phone.PACKAGE
    assert re.search(r'applicationId = "(.+)"', app).group(1) == phone.PACKAGE
    assert 'implementation(project(":core"))' in app
    for artifact in ("litert", "litert-gpu"):
        pinned = re.search(rf'"com\.google\.ai\.edge\.litert:{artifact}:([\d.]+)"', app).group(1)
        assert pinned in CONFIRMED_LITERT, f"{artifact}:{pinned} is not a release shown to exist"
    assert 'id("com.android.application") version' in read("build.gradle.kts")
    assert os.access(os.path.join(DEMO, "gradlew"), os.X_OK)
    workflow = open(os.path.join(ROOT, ".github", "workflows", "android_demo.yml")).read()
    assert "./gradlew --no-daemon :core:test assembleDebug" in workflow
    assert "android_demo/app/build/outputs/apk/debug/app-debug.apk" in workflow


def java_sources():
    found = {}
    for folder, _, names in os.walk(os.path.join(DEMO, "app", "src", "main", "java")):
        for name in names:
            with open(os.path.join(folder, name)) as f:
                found[name] = f.read()
    return found


def test_manifest_declares_the_activities_export_phone_starts():
    manifest = ET.parse(os.path.join(DEMO, "app", "src", "main", "AndroidManifest.xml")).getroot()
    activities = {a.get(f"{ANDROID}name"): a for a in manifest.iter("activity")}
    assert set(activities) == {".MainActivity", ".HeadlessActivity"}
    assert all(a.get(f"{ANDROID}exported") == "true" for a in activities.values())
    assert phone.ACTIVITY == f"{phone.PACKAGE}/.HeadlessActivity"
    sources = java_sources()
    for name in activities:
        assert f"public final class {name[1:]} extends Activity" in sources[f"{name[1:]}.java"]
    assert "android.intent.action.MAIN" in ET.tostring(activities[".MainActivity"]).decode()


def test_only_the_adb_shell_can_start_a_benchmark_and_rotation_does_not_restart_it():
    """The headless activity needs DUMP, which the shell holds (frameworks/base/packages/Shell's
    manifest) and other apps cannot (signature|privileged|development); it handles rotation
    itself, so Android does not re-create it (a second onCreate = a second run)."""
    manifest = ET.parse(os.path.join(DEMO, "app", "src", "main", "AndroidManifest.xml")).getroot()
    headless = next(a for a in manifest.iter("activity") if a.get(f"{ANDROID}name") == ".HeadlessActivity")
    assert headless.get(f"{ANDROID}permission") == "android.permission.DUMP"
    handled = set(headless.get(f"{ANDROID}configChanges", "").split("|"))
    assert {"orientation", "screenSize", "screenLayout", "smallestScreenSize"} <= handled
    exported = [a for a in manifest.iter("activity") if a.get(f"{ANDROID}exported") == "true"]
    for activity in exported:  # every other way in is the launcher's
        assert (activity.get(f"{ANDROID}permission")
                or "android.intent.category.LAUNCHER" in ET.tostring(activity).decode())


def test_resources_the_code_uses_exist():
    res = os.path.join(DEMO, "app", "src", "main", "res")
    strings = {s.get("name") for s in ET.parse(os.path.join(res, "values", "strings.xml")).getroot()}
    layout = open(os.path.join(res, "layout", "activity_main.xml")).read()
    manifest = read("app", "src", "main", "AndroidManifest.xml")
    ids = set(re.findall(r'@\+id/(\w+)', layout))
    code = "\n".join(java_sources().values())
    assert set(re.findall(r"(?<!android\.)\bR\.id\.(\w+)", code)) <= ids
    assert set(re.findall(r"\bR\.string\.(\w+)", code)) | set(re.findall(r"@string/(\w+)", layout + manifest)) <= strings
    assert set(re.findall(r"(?<!android\.)\bR\.layout\.(\w+)", code)) == {"activity_main"}
    assert {"threads_1", "threads_2", "threads_4", "delegate_gpu", "run", "results"} <= ids


def test_host_sends_the_extras_the_app_reads(monkeypatch, tmp_path):
    """The keys of python -m export.phone's am start are the Java core's Options.KEYS."""
    options = read("core", "src", "main", "java", "dev", "litetf", "bench", "Options.java")
    keys = re.findall(r'"(\w+)"', re.search(r"KEYS =\s*Arrays\.asList\(([^)]*)\)", options).group(1))
    sent = []

    class Recorder(phone.Adb):
        def __call__(self, *args):  # push
            return ""

        def shell(self, *words):
            sent.append(words)
            if words[0] == "ls":
                return "run.json\n"
            return "Status: ok\n"

    monkeypatch.setattr(phone, "_wait", lambda *a, **k: {"results": []})
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    phone.run([str(model)], Recorder("adb", "S1"), [1, 2], ["xnnpack"], progress=lambda _: None)
    start = next(w for w in sent if w[:2] == ("am", "start"))
    extras = [start[i + 1] for i, w in enumerate(start) if w == "--es"]
    assert sorted(extras) == sorted(keys)


def method_body(source: str, signature: str) -> str:
    """The text of the Java method whose declaration contains ``signature``, braces balanced."""
    start = source.index("{", source.index(signature))
    depth = 0
    for end in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[end], 0)
        if depth == 0:
            return source[start:end + 1]
    raise ValueError(f"unbalanced braces after {signature}")


def test_screen_keeps_clear_of_the_system_bars_when_drawn_edge_to_edge():
    """Targeting SDK 35, Android 15 draws the app edge to edge: the screen's content must take the
    system bars' insets or the results table runs under the navigation bar. (Static: no Android
    SDK here to run it.)"""
    target = int(re.search(r"targetSdk = (\d+)", read("app", "build.gradle.kts")).group(1))
    main = java_sources()["MainActivity.java"]
    if target >= 35:
        on_create = method_body(main, "protected void onCreate(")
        assert "keepClearOfSystemBars(findViewById(android.R.id.content))" in on_create
        listener = method_body(main, "private static void keepClearOfSystemBars(")
        assert "setOnApplyWindowInsetsListener" in listener and "systemBars()" in listener
        assert "setPadding(bars.left, bars.top, bars.right, bars.bottom)" in listener


def test_models_are_listed_and_copied_off_the_ui_thread():
    """ModelStore.all copies the bundled models after an install: the activities call it (and
    select, which calls it) only from a worker thread. (Static: no Android SDK here to run it.)"""
    for name, source in java_sources().items():
        for method in re.finditer(r"(?:protected|public|private) void (on\w+)\(", source):
            body = method_body(source, method.group(0))
            for call in re.finditer(r"ModelStore\.(all|select)\(", body):
                before = body[:call.start()]
                assert before.count("new Thread(") > before.count("}, \"lite_tf-"), (
                    f"{name}: {method.group(1)} calls ModelStore.{call.group(1)} on the UI thread")
