"""The phone side without a phone: the app's Java core (android_demo/core, with its fake backend)
feeding the host's table, and python -m export.phone driving a fake adb that simulates a device,
its files and the app."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import conftest
from conftest import ROOT, run_module, snapshot
from lite_tf import rundir
from lite_tf.deploy import convert, litert, samples
from lite_tf.deploy.benchmark import results
from lite_tf.models import create_model
from test_benchmark import table_rows

CORE = os.path.join(ROOT, "android_demo", "core")


@pytest.fixture(scope="module")
def java_core(tmp_path_factory):
    """The Java core and its test classes compiled by android_demo/core/test.sh; a classpath.
    Skipped without javac and Debian's junit4 / libandroid-json-java, unless LITE_TF_REQUIRE_JAVA
    is set (CI sets it: there, a missing toolchain is a failure)."""
    out = tmp_path_factory.mktemp("javac")
    proc = (subprocess.run(["bash", os.path.join(CORE, "test.sh"), "--compile-only", str(out)],
                           capture_output=True, text=True) if shutil.which("javac") else None)
    missing = proc is None or (proc.returncode and ".jar is missing" in proc.stderr)
    if missing and not os.environ.get("LITE_TF_REQUIRE_JAVA"):
        pytest.skip("the Java core needs javac and Debian's junit4 and libandroid-json-java: "
                    + (proc.stderr.strip() if proc else "no javac"))
    if proc is None or proc.returncode:
        pytest.fail(f"the Java core did not compile: {proc.stderr[-2000:] if proc else 'no javac'}")
    return f"{out}:{os.environ.get('JAVA_LIBS', '/usr/share/java')}/com.android.json.jar"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Two int8 models as python -m export leaves them: each with a report (its top-1) and samples
    (32 random images as the int8 input tensor with the host's LiteRT predictions)."""
    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    paths = []
    for name, size, top1 in (("small_int8", 32, 0.5), ("large_int8", 48, 0.75)):
        model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(size, size, 3))
        images = rng.uniform(-1, 1, (32, 1, size, size, 3)).astype("float32")
        content = convert.convert(model, "int8", lambda: iter(images))
        path = root / f"{name}.tflite"
        path.write_bytes(content)
        (root / f"{name}.report.json").write_text(json.dumps({"tflite_top1": top1}))
        lite = litert.TFLiteModel(content)
        inputs = np.stack([lite.input_tensor(x[0]) for x in images])
        predictions = lite(images[:, 0]).argmax(-1)
        labels = (predictions + 1 + rng.integers(0, 9, len(predictions))) % 10  # never the prediction
        samples.write(rundir.samples_for(str(path)), inputs, predictions, labels, 10, top1)
        paths.append(path)
    return paths


# FakePhone predicts what the host predicted for each sample it reads, except the 32nd: with 32
# samples it agrees on 31, if it read the inputs and predictions as Python wrote them.
FAKE_AGREEMENT = 31 / 32


def test_java_core_results_join_host_rows_in_one_table(java_core, exported, tmp_path):
    small, large = exported
    models = tmp_path / "models"
    models.mkdir()
    for path in exported:
        shutil.copy(path, models)
        shutil.copy(rundir.samples_for(str(path)), models)
    (models / "broken.tflite").write_text("not a model")
    found = samples.read(rundir.samples_for(str(small)))
    phone_json = tmp_path / "phone.json"
    proc = subprocess.run(["java", "-cp", java_core, "dev.litetf.bench.FakePhone",
                           "--models-dir", str(models), "--out", str(phone_json),
                           "--threads", "1,4", "--delegates", "xnnpack,gpu", "--runs", "10"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    document = results.load(str(phone_json))  # the schema the Python side uses
    assert [(r["model"], r["delegate"], r["threads"]) for r in document["results"]] == [
        ("large_int8", "XNNPACK", 1), ("large_int8", "XNNPACK", 4), ("large_int8", "GPU", 1),
        ("small_int8", "XNNPACK", 1), ("small_int8", "XNNPACK", 4), ("small_int8", "GPU", 1)]
    assert [e["error"] for e in document["errors"]] == ["broken.tflite is not a TFLite model"] * 3
    by_model = {r["model"]: r for r in document["results"]}
    assert by_model["small_int8"]["samples"] == len(found["inputs"]) == 32
    assert by_model["small_int8"]["agreement"] == FAKE_AGREEMENT
    assert by_model["large_int8"]["top1"] == pytest.approx(0.75)  # the host's, from the samples
    # 0.1 ms + 1 ms per MiB of model on the fake clock: 4 threads are faster.
    rows = {(r["model"], r["delegate"], r["threads"]): r for r in document["results"]}
    size = large.stat().st_size
    assert rows["large_int8", "XNNPACK", 1]["first_inference_ms"] == pytest.approx(0.1 + size / 2**20, rel=1e-5)
    assert rows["large_int8", "XNNPACK", 4]["p50_ms"] < rows["large_int8", "XNNPACK", 1]["p50_ms"]

    proc = run_module("export.benchmark", [str(phone_json), str(small), "--runs", "5",
                                           "--out", str(tmp_path / "table")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = table_rows((tmp_path / "table" / "benchmark.md").read_text())
    assert [(r["device"], r["model"], r["delegate"], r["threads"]) for r in table] == [
        ("Fake phone", "`large_int8`", "XNNPACK", "1"), ("Fake phone", "`large_int8`", "XNNPACK", "4"),
        ("Fake phone", "`large_int8`", "GPU", "1"), ("Fake phone", "`small_int8`", "XNNPACK", "1"),
        ("Fake phone", "`small_int8`", "XNNPACK", "4"), ("Fake phone", "`small_int8`", "GPU", "1"),
        ("host", "`small_int8`", "XNNPACK", "1")]
    assert table[3]["agreement"] == "96.88% of 32"
    assert table[-1]["agreement"] == "-" and table[-1]["top-1"] == "50.00%"
    assert ("- Fake phone: `broken.tflite` on GPU with 1 thread failed: broken.tflite is not a TFLite "
            "model") in proc.stdout
    assert (tmp_path / "table" / "benchmark.png").read_bytes()[:4] == b"\x89PNG"


def test_a_document_off_the_schema_is_one_line(tmp_path, exported):
    bad = tmp_path / "phone.json"
    bad.write_text(json.dumps({"schema": "lite_tf.benchmark/2", "device": {}, "results": []}))
    proc = run_module("export.benchmark", [str(bad), str(exported[0])], tmp_path)
    assert (f"{bad} is not a lite_tf.benchmark/2 document: ['device']: 'kind' is a required property"
            in conftest.one_error_line(proc, "python -m export.benchmark"))


# --- python -m export.phone against a fake adb ----------------------------------------------------

FAKE_ADB = r'''
import json, os, shlex, shutil, subprocess, sys
state = STATE
PACKAGE = "dev.litetf.demo"
EXTERNAL = f"/sdcard/Android/data/{PACKAGE}/files"
def path(remote):
    return os.path.join(state, "fs", remote.lstrip("/"))
def has(name):
    return os.path.exists(os.path.join(state, name))
def touch(name, on=True):
    if on:
        open(os.path.join(state, name), "w").close()
    elif has(name):
        os.remove(os.path.join(state, name))
def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)
args = sys.argv[1:]
with open(os.path.join(state, "calls.log"), "a") as log:
    log.write(json.dumps(args) + "\n")
with open(os.path.join(state, "devices")) as f:
    devices = dict(line.split("\t") for line in f.read().splitlines() if line)
sdk = int(open(os.path.join(state, "sdk")).read()) if has("sdk") else 33
if args == ["devices"]:
    print("List of devices attached")
    for serial, status in devices.items():
        print(f"{serial}\t{status}")
    print()
    sys.exit(0)
if args[0] == "-s":
    serial, args = args[1], args[2:]
    if serial not in devices:
        fail(f"adb: device '{serial}' not found")
elif len(devices) != 1:
    fail("adb: more than one device/emulator" if devices else "adb: no devices/emulators found")
installed = os.path.join(state, "installed")
if args[0] == "install":
    shutil.copy(args[-1], installed)
    print("Performing Streamed Install\nSuccess")
elif args[0] == "push":
    if args[2].startswith("/sdcard/Android/data/") and sdk >= 30:  # adbd's fs_config chown, refused
        fail(f"adb: error: failed to copy '{args[1]}' to '{args[2]}': remote fchown failed: "
             f"Operation not permitted")
    os.makedirs(os.path.dirname(path(args[2])), exist_ok=True)
    shutil.copy(args[1], path(args[2]))
    print(f"{args[1]}: 1 file pushed")
elif args[0] == "pull":
    if not os.path.exists(path(args[1])):
        fail(f"adb: error: failed to stat remote object '{args[1]}': No such file or directory")
    shutil.copy(path(args[1]), args[2])
elif args[0] == "shell":
    words = shlex.split(" ".join(args[1:]))
    tolerant = words[-2:] == ["||", "true"]
    words = [w for w in (words[:-2] if tolerant else words) if w != "2>/dev/null"]
    if words[:2] == ["pm", "path"]:
        if not os.path.exists(installed):
            sys.exit(1)
        print(f"package:/data/app/{PACKAGE}/base.apk")
    elif words[:2] == ["mkdir", "-p"]:
        for d in words[2:]:
            os.makedirs(path(d), exist_ok=True)
    elif words[0] == "ls":
        if not os.path.isdir(path(words[1])):
            if tolerant:
                sys.exit(0)
            fail(f"ls: {words[1]}: No such file or directory")
        print("\n".join(sorted(os.listdir(path(words[1])))))
    elif words[0] == "cat":
        print(open(path(words[1])).read())
    elif words[:2] == ["rm", "-f"]:
        for f in words[2:]:
            if os.path.exists(path(f)):
                os.remove(path(f))
    elif words[:2] == ["rm", "-rf"]:
        for f in words[2:]:
            shutil.rmtree(path(f), ignore_errors=True)
    elif words == ["input", "keyevent", "KEYCODE_WAKEUP"]:
        touch("asleep", has("asleep") and has("stays_asleep"))
    elif words == ["dumpsys", "power"]:
        print(f"POWER MANAGER (dumpsys power)\n  mWakefulness={'Asleep' if has('asleep') else 'Awake'}")
    elif words == ["dumpsys", "window"]:
        print(f"WINDOW MANAGER POLICY STATE\n    mShowingDream=false mDreamingLockscreen={str(has('locked')).lower()}")
    elif words == ["pidof", PACKAGE]:
        if has("alive"):
            print("4242")
        elif not tolerant:
            sys.exit(1)
    elif words[0] == "logcat":
        print(open(os.path.join(state, "logcat")).read() if has("logcat") else "")
    elif words[:2] == ["am", "start"]:
        if not os.path.exists(installed):
            print(f"Error: Activity class {{{PACKAGE}/{PACKAGE}.HeadlessActivity}} does not exist.")
            sys.exit(0)
        print(f"Starting: Intent {{ cmp={PACKAGE}/.HeadlessActivity (has extras) }}")
        if "-S" in words:
            touch("alive", False)  # force-stopped first
        elif has("alive"):
            print("Warning: Activity not started, its current task has been brought to the front")
            sys.exit(0)
        print("Status: ok")
        touch("alive")
        extras = dict(zip(words[words.index("--es") + 1::3], words[words.index("--es") + 2::3]))
        app = os.path.join(state, "app")  # what the app does: a command line, or nothing
        if os.path.exists(app) and not has("asleep") and not has("locked"):  # else it stalls
            os.makedirs(path(EXTERNAL + "/results"), exist_ok=True)
            models = path(f"/data/data/{PACKAGE}/files/models")
            os.makedirs(models, exist_ok=True)
            command = json.load(open(app)) + [
                "--staging", path("/data/local/tmp/lite_tf"), "--models-dir", models,
                "--out", path(EXTERNAL + "/results/" + extras.pop("run_id") + ".json")]
            for key, value in extras.items():
                command += ["--" + key, value]
            ran = subprocess.run(command, capture_output=True, text=True)
            with open(os.path.join(state, "logcat"), "a") as log:
                log.write(ran.stderr)
            touch("alive", ran.returncode == 0)  # a crash ends the process
    else:
        fail(f"fake adb: unknown shell command {words}")
else:
    fail(f"fake adb: unknown command {args}")
'''


@pytest.fixture
def adb(tmp_path):
    """A fake adb on disk, its state folder, and a helper to set its devices and app."""
    state = tmp_path / "adb"
    (state / "fs").mkdir(parents=True)
    executable = tmp_path / "bin" / "adb"
    executable.parent.mkdir()
    executable.write_text(f"#!{sys.executable}\n{FAKE_ADB.replace('STATE', repr(str(state)), 1)}")
    executable.chmod(0o755)

    class Fake:
        path, folder = str(executable), state

        def devices(self, **status):
            (state / "devices").write_text("".join(f"{s}\t{v}\n" for s, v in status.items()))

        def app(self, command):
            (state / "app").write_text(json.dumps(command))

        def set(self, flag, on=True):
            """A phone state: alive (the app's process runs), asleep, stays_asleep, locked."""
            (state / flag).touch() if on else (state / flag).unlink(missing_ok=True)

        def calls(self):
            return [json.loads(line) for line in (state / "calls.log").read_text().splitlines()]

    fake = Fake()
    fake.devices(**{"R5CT1234": "device"})
    return fake


def run_phone(args, adb, cwd):
    return run_module("export.phone", [*args, "--adb", adb.path], cwd)


def test_whole_flow_install_push_run_pull_and_one_table(adb, java_core, exported, tmp_path):
    small, with_samples = exported
    large = tmp_path / "no_samples" / "large_int8.tflite"  # no samples: top-1 from its report
    large.parent.mkdir()
    shutil.copy(with_samples, large)
    shutil.copy(with_samples.with_suffix(".report.json"), large.parent)
    models = adb.folder / "fs" / "data/data/dev.litetf.demo/files/models"  # the app's own folder
    models.mkdir(parents=True)
    (models / "large_int8.samples").write_text("an earlier push's samples, for another model")
    adb.app(["java", "-cp", java_core, "dev.litetf.bench.FakePhone"])
    apk = tmp_path / "app-debug.apk"
    apk.write_bytes(b"PK fake apk")
    out = tmp_path / "out"
    proc = run_phone(["--install", str(apk), "--threads", "1,2", "--runs", "5", "--host",
                      "--out", str(out), str(small), str(large)], adb, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (adb.folder / "installed").read_bytes() == b"PK fake apk"
    assert sorted(os.listdir(models)) == ["large_int8.tflite", "small_int8.samples",
                                          "small_int8.tflite"]
    assert (models / "small_int8.tflite").read_bytes() == small.read_bytes()
    pushed = [c[-1] for c in adb.calls() if "push" in c]
    assert pushed and all(p.startswith("/data/local/tmp/lite_tf/") for p in pushed)
    assert os.listdir(adb.folder / "fs" / "data/local/tmp/lite_tf") == []  # cleaned after the run
    on_phone = adb.folder / "fs" / "sdcard/Android/data/dev.litetf.demo/files/results"
    assert os.listdir(on_phone) == []  # pulled, then removed from the phone
    verbs = [c[2] if c[0] == "-s" else c[0] for c in adb.calls()]
    assert verbs[:3] == ["devices", "install", "shell"] and "pull" in verbs
    start = next(c for c in adb.calls() if "am start" in " ".join(c))
    assert start[-1].startswith("am start -S -W -n dev.litetf.demo/.HeadlessActivity")
    assert "--es threads 1,2 --es delegates xnnpack,gpu --es runs 5 --es warmup 5" in start[-1]

    document = results.load(str(out / "phone.json"))
    assert document["device"]["name"] == "Fake phone"
    assert [(r["model"], r["delegate"], r["threads"]) for r in document["results"]] == [
        ("small_int8", "XNNPACK", 1), ("small_int8", "XNNPACK", 2), ("small_int8", "GPU", 1),
        ("large_int8", "XNNPACK", 1), ("large_int8", "XNNPACK", 2), ("large_int8", "GPU", 1)]
    assert [r["agreement"] for r in document["results"]] == [FAKE_AGREEMENT] * 3 + [None] * 3
    assert [r["top1"] for r in document["results"]] == [0.5] * 3 + [0.75] * 3  # samples; report
    table = table_rows((out / "benchmark.md").read_text())
    assert [r["device"] for r in table] == ["Fake phone"] * 6 + ["host"] * 4
    assert [r["top-1"] for r in table] == ["50.00%"] * 3 + ["75.00%"] * 3 + ["50.00%"] * 2 + ["75.00%"] * 2
    assert (out / "benchmark.md").read_text() in proc.stdout
    assert sorted(os.listdir(out)) == ["benchmark.md", "benchmark.png", "phone.json"]


def run_small(adb, java_core, exported, cwd):
    """python -m export.phone on the first exported model, the fake phone running FakePhone."""
    adb.app(["java", "-cp", java_core, "dev.litetf.bench.FakePhone"])
    (adb.folder / "installed").write_text("apk")
    out = cwd / "out"
    proc = run_phone([str(exported[0]), "--threads", "1", "--delegates", "xnnpack", "--runs", "5",
                      "--timeout", "30", "--out", str(out)], adb, cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return results.load(str(out / "phone.json"))


def test_an_earlier_run_still_alive_is_stopped_not_brought_to_the_front(adb, java_core, exported,
                                                                         tmp_path):
    adb.set("alive")  # without -S, am would only bring its task to the front: no new run
    document = run_small(adb, java_core, exported, tmp_path)
    assert [(r["model"], r["threads"]) for r in document["results"]] == [("small_int8", 1)]


def test_a_sleeping_screen_is_woken_before_the_app_starts(adb, java_core, exported, tmp_path):
    adb.set("asleep")  # asleep, the app would stall until the timeout
    document = run_small(adb, java_core, exported, tmp_path)
    assert len(document["results"]) == 1
    calls = [" ".join(c) for c in adb.calls()]
    woken = next(i for i, c in enumerate(calls) if "KEYCODE_WAKEUP" in c)
    assert woken < next(i for i, c in enumerate(calls) if "am start" in c)


def test_memory_figure_is_what_the_model_added(adb, java_core, exported, tmp_path):
    """The fake phone's process sits at 100 MiB resident and peaks at 164 MiB after the reset."""
    document = run_small(adb, java_core, exported, tmp_path)
    assert document["results"][0]["model_memory_bytes"] == 64 * 2**20


def test_same_model_from_two_runs_gets_two_names_on_the_phone(tmp_path):
    from lite_tf.deploy import phone
    a = tmp_path / "run-a" / "export" / "m_int8.tflite"
    b = tmp_path / "run-b" / "export" / "m_int8.tflite"
    c = tmp_path / "n_int8.tflite"
    assert phone.device_names([str(a), str(b), str(c)]) == {
        str(a): "run-a_m_int8.tflite", str(b): "run-b_m_int8.tflite", str(c): "n_int8.tflite"}


PHONE_ERRORS = {
    "no device": "no Android device: adb devices lists none (connect a phone with USB debugging on)",
    "unauthorized device": "device R5CT1234 is unauthorized: accept the USB debugging prompt on the "
                           "phone, then run this again",
    "several devices without --serial": "several devices (R5CT1234, emulator-5554): choose one with "
                                        "--serial",
    "unknown --serial": "no device 9XYZ: adb devices lists R5CT1234",
    "no results before the timeout": "no results from the app on R5CT1234 after 1 s (adb logcat -s "
                                     "lite_tf shows what it did; a long run needs a larger --timeout)",
    "the app reports an error": "the app on R5CT1234 stopped: no model nope.tflite in",
    "app not installed": "the lite_tf benchmark app (dev.litetf.demo) is not installed on R5CT1234: "
                         "pass --install app-debug.apk",
    "a locked screen": "the screen of R5CT1234 is locked: unlock it and run this again",
    "a screen that stays off": "the screen of R5CT1234 stays off (mWakefulness=Asleep): turn it on",
    "the app's process dies": "the app on R5CT1234 died without results; its log ends: I lite_tf : "
                              "[1/1] small_int8: XNNPACK, 1 thread | F libc    : "
                              "Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0 in "
                              "tid 4243 (lite_tf-benchmark)",
    "missing model file": "no such model file: ",
    "missing APK": "no such APK: ",
    "no adb": "adb not found (",
}


@pytest.mark.parametrize("case", PHONE_ERRORS)
def test_phone_problems_are_one_line_exit_2(case, adb, exported, tmp_path):
    small, _ = exported
    (adb.folder / "installed").write_text("apk")
    args = [str(small), "--timeout", "1"]
    if case == "no device":
        adb.devices()
    elif case == "unauthorized device":
        adb.devices(R5CT1234="unauthorized")
    elif case == "several devices without --serial":
        adb.devices(**{"R5CT1234": "device", "emulator-5554": "device"})
    elif case == "unknown --serial":
        args += ["--serial", "9XYZ"]
    elif case == "the app reports an error":  # the app's own one-line error file
        adb.app([sys.executable, "-c", "import sys; open(sys.argv[sys.argv.index('--out') + 1]"
                 "[:-5] + '.error', 'w').write('no model nope.tflite in /sdcard/...\\n')"])
    elif case == "app not installed":
        (adb.folder / "installed").unlink()
    elif case == "a locked screen":
        adb.set("locked")
    elif case == "a screen that stays off":
        adb.set("asleep")
        adb.set("stays_asleep")
    elif case == "the app's process dies":  # a native crash: no error file, no results
        adb.app([sys.executable, "-c", "import sys; sys.stderr.write('I lite_tf : [1/1] small_int8: "
                 "XNNPACK, 1 thread\\nF libc    : Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), "
                 "fault addr 0x0 in tid 4243 (lite_tf-benchmark)\\n'); sys.exit(139)"])
    elif case == "missing model file":
        args = [str(tmp_path / "nope.tflite")]
    elif case == "missing APK":
        args += ["--install", str(tmp_path / "nope.apk")]
    work = tmp_path / "work"
    work.mkdir()
    proc = run_module("export.phone", [*args, "--adb", str(tmp_path / "no-adb") if case == "no adb"
                                       else adb.path], work)
    assert PHONE_ERRORS[case] in conftest.one_error_line(proc, "python -m export.phone")
    assert snapshot(work) == {}  # nothing written
