"""Benchmark models on an Android phone over adb (the work behind ``python -m export.phone``).

The phone runs the lite_tf benchmark app (``android_demo/``) in its headless mode: the models and
their ``.samples`` are pushed to ``/data/local/tmp/lite_tf`` (where adb can write on every Android
version: pushes into ``Android/data`` fail on many Android 11-13 phones with "remote fchown
failed"), the screen is woken and checked, the app is started afresh (``am start -S``) with
extras, copies the models into its private files folder, and writes a ``lite_tf.benchmark/2``
document to ``results/<run id>.json`` in its external files folder (or one line to ``<run
id>.error``), which is pulled, checked against the schema and returned. While waiting, a dead app
process (a native crash, the system killing it) fails at once with the end of its log. Every
problem (no device, an unauthorized one, the app missing, a locked screen, no results in time) is
a one-line ``InputError``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time

from lite_tf import rundir, trust
from lite_tf.deploy.benchmark import results
from lite_tf.errors import InputError

PACKAGE = "dev.litetf.demo"
ACTIVITY = f"{PACKAGE}/.HeadlessActivity"
STAGING = "/data/local/tmp/lite_tf"  # adb pushes here; the app copies from it (core's Staging.DIR)
RESULTS_DIR = f"/sdcard/Android/data/{PACKAGE}/files/results"  # the app writes, adb reads
# What `dumpsys window` says while the keyguard shows, across Android versions.
LOCKED = ("mDreamingLockscreen=true", "mShowingLockscreen=true", "isStatusBarKeyguard=true",
          "mKeyguardShowing=true")
LOG_TAGS = ("lite_tf", "AndroidRuntime", "DEBUG", "libc")  # the app's, Java crashes, native crashes
DELEGATES = ("xnnpack", "cpu", "gpu")  # what the app runs a model with (--delegates)
ADB_SECONDS = 120  # any one adb command (an install or a push of a large model included)


class Adb:
    """The adb executable, talking to one device once ``serial`` is set."""

    def __init__(self, executable: str = "adb", serial: str | None = None):
        self.executable, self.serial = executable, serial

    def __call__(self, *args: str) -> str:
        command = [self.executable, *(["-s", self.serial] if self.serial else []), *args]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=ADB_SECONDS)
        except FileNotFoundError:
            raise InputError(f"adb not found ({self.executable}): install Android's platform-tools "
                             f"or pass --adb PATH") from None
        except subprocess.TimeoutExpired:
            raise InputError(f"adb {args[0]} took over {ADB_SECONDS} s: is the device still "
                             f"connected?") from None
        if proc.returncode:
            said = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise InputError(f"adb {' '.join(args[:2])} failed: {said}")
        return proc.stdout

    def shell(self, *words: str) -> str:
        """A command on the device, quoted for its shell."""
        return self("shell", shlex.join(words))


def choose_device(adb: Adb, serial: str | None) -> str:
    """The serial of the one usable device (``serial`` if given), from ``adb devices``."""
    listed = {}
    for line in adb("devices").splitlines()[1:]:
        if line.strip() and not line.startswith("*"):  # '* daemon started successfully'
            name, _, state = line.partition("\t")
            listed[name.strip()] = state.strip()
    if serial is not None and serial not in listed:
        raise InputError(f"no device {serial}: adb devices lists "
                         + (", ".join(listed) if listed else "none"))
    if serial is None:
        if not listed:
            raise InputError("no Android device: adb devices lists none (connect a phone with USB "
                             "debugging on)")
        if len(listed) > 1:
            raise InputError(f"several devices ({', '.join(listed)}): choose one with --serial")
        serial = next(iter(listed))
    state = listed[serial]
    if state == "unauthorized":
        raise InputError(f"device {serial} is unauthorized: accept the USB debugging prompt on the "
                         f"phone, then run this again")
    if state != "device":
        raise InputError(f"device {serial} is {state}: reconnect it (adb reconnect)")
    return serial


def device_names(paths: list[str]) -> dict[str, str]:
    """A file name on the phone for each model: its own, or, where two models share one (the same
    model from two runs), prefixed with its run's folder."""
    names = {p: os.path.basename(p) for p in paths}
    clashing = {n for n in names.values() if list(names.values()).count(n) > 1}
    for path, name in names.items():
        if name in clashing:
            folder = rundir.run_of_export(path) or os.path.dirname(os.path.abspath(path))
            names[path] = f"{os.path.basename(folder)}_{name}"
    if len(set(names.values())) < len(names):
        raise InputError("two models would have the same name on the phone: "
                         + ", ".join(sorted(p for p in names if names[p] in clashing)))
    for name in names.values():
        trust.check_name(name, "the model file name")
    return names


def install(adb: Adb, apk: str) -> None:
    out = adb("install", "-r", "-g", apk)
    if "Success" not in out:
        raise InputError(f"adb install {apk} failed: {(out.strip() or 'no output').splitlines()[-1]}")


def check_app(adb: Adb) -> None:
    try:
        found = adb.shell("pm", "path", PACKAGE).strip()
    except InputError:
        found = ""
    if not found:
        raise InputError(f"the lite_tf benchmark app ({PACKAGE}) is not installed on {adb.serial}: "
                         f"pass --install app-debug.apk (android_demo/README.md builds it)")


def run(models: list[str], adb: Adb, threads: list[int], delegates: list[str], runs: int = 50,
        warmup: int = 5, timeout: float = 600, poll: float = 1.0, progress=print) -> dict:
    """Push ``models`` (and their samples) to the phone ``adb`` talks to, run the app headless,
    wait up to ``timeout`` seconds, and return its validated results document, each result's
    ``top1`` filled in from the local export report when the app had none."""
    names = device_names(models)
    adb.shell("mkdir", "-p", STAGING)
    for path, name in names.items():
        progress(f"pushing {path} to {adb.serial}")
        adb("push", path, f"{STAGING}/{name}")
        if os.path.exists(rundir.samples_for(path)):
            adb("push", rundir.samples_for(path), f"{STAGING}/{rundir.samples_for(name)}")
        else:  # an older copy would be for another model
            adb.shell("rm", "-f", f"{STAGING}/{rundir.samples_for(name)}")
    wake(adb)
    run_id = f"lite_tf-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    extras = {"run_id": run_id, "models": ",".join(names.values()),
              "threads": ",".join(map(str, threads)), "delegates": ",".join(delegates),
              "runs": str(runs), "warmup": str(warmup)}
    # -S stops a run still going: without it am only brings the old task to the front, with a
    # "Warning:", and the new extras never reach the app.
    started = adb.shell("am", "start", "-S", "-W", "-n", ACTIVITY,
                        *[word for key, value in extras.items() for word in ("--es", key, value)])
    said = [line.strip() for line in started.splitlines()
            if line.startswith(("Error", "Warning", "Exception", "java.lang."))]
    if said:
        raise InputError(f"the app did not start on {adb.serial}: {said[0]}")
    try:
        document = _wait(adb, run_id, timeout, poll, progress)
    finally:  # the app has its own copies by now (or failed)
        try:
            adb.shell("rm", "-f", *[f"{STAGING}/{n}" for name in names.values()
                                    for n in (name, rundir.samples_for(name))])
        except InputError:  # a phone gone mid-run: the first error is the one to see
            pass
    by_name = {name: path for path, name in names.items()}
    for result in document["results"]:
        local = by_name.get(result["model"] + ".tflite")
        if result["top1"] is None and local:
            result["top1"] = results.reported_top1(local)
    return document


def wake(adb: Adb) -> None:
    """Wake the screen (a sleeping phone freezes or throttles the app) and refuse a locked one."""
    adb.shell("input", "keyevent", "KEYCODE_WAKEUP")
    state = re.search(r"mWakefulness=(\w+)", adb.shell("dumpsys", "power"))
    if state and state.group(1) != "Awake":
        raise InputError(f"the screen of {adb.serial} stays off (mWakefulness={state.group(1)}): "
                         f"turn it on and run this again")
    window = adb.shell("dumpsys", "window")
    if any(marker in window for marker in LOCKED):
        raise InputError(f"the screen of {adb.serial} is locked: unlock it and run this again (a "
                         f"locked phone pauses the app; Developer options > Stay awake keeps the "
                         f"screen on while charging)")


def results_listed(adb: Adb) -> set[str]:
    """The files in the app's results folder (none before the app has made it: adb must not,
    or on Android 11+ the folder would be the shell's and the app could not write to it)."""
    return set(adb("shell", f"ls {RESULTS_DIR} 2>/dev/null || true").split())


def alive(adb: Adb) -> bool:
    """Whether the app's process runs (``pidof`` prints nothing and fails once it is gone)."""
    return bool(adb("shell", f"pidof {PACKAGE} || true").strip())


def last_log(adb: Adb, lines: int = 3) -> str:
    """The last ``lines`` lines the app and the crash reporters logged, joined on one line."""
    log = adb.shell("logcat", "-d", "-t", "200", "-s", *LOG_TAGS).splitlines()
    kept = [line.strip() for line in log if line.strip() and not line.startswith("-----")]
    return " | ".join(kept[-lines:]) or "nothing logged"


def _wait(adb: Adb, run_id: str, timeout: float, poll: float, progress) -> dict:
    """The app's results document, once ``<run id>.json`` appears; its one-line error if
    ``<run id>.error`` does, or at once if the app's process dies; an InputError after
    ``timeout`` seconds."""
    deadline, said = time.monotonic() + timeout, None
    progress(f"benchmarking on {adb.serial} (up to {timeout:g} s)")
    while True:
        listed = results_listed(adb)
        if f"{run_id}.json" in listed:
            break
        if f"{run_id}.error" in listed:
            error = adb.shell("cat", f"{RESULTS_DIR}/{run_id}.error").strip() or "no message"
            adb.shell("rm", "-f", f"{RESULTS_DIR}/{run_id}.error")
            raise InputError(f"the app on {adb.serial} stopped: {error.splitlines()[0]}")
        if not alive(adb) and not {f"{run_id}.json", f"{run_id}.error"} & results_listed(adb):
            # (listed again: it may have finished between the two looks)
            raise InputError(f"the app on {adb.serial} died without results; its log ends: "
                             f"{last_log(adb)}")
        if f"{run_id}.progress" in listed:
            now = adb.shell("cat", f"{RESULTS_DIR}/{run_id}.progress").strip()
            if now and now != said:
                progress(now)
                said = now
        if time.monotonic() > deadline:
            raise InputError(f"no results from the app on {adb.serial} after {timeout:g} s "
                             f"(adb logcat -s lite_tf shows what it did; a long run needs a larger "
                             f"--timeout)")
        time.sleep(poll)
    folder = tempfile.mkdtemp(prefix="lite_tf_phone_")
    try:
        local = os.path.join(folder, f"{run_id}.json")
        adb("pull", f"{RESULTS_DIR}/{run_id}.json", local)
        document = results.load(local, f"the results from {adb.serial}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    adb.shell("rm", "-f", f"{RESULTS_DIR}/{run_id}.json", f"{RESULTS_DIR}/{run_id}.progress")
    return document
