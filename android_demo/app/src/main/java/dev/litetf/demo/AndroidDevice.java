package dev.litetf.demo;

import android.os.Build;

import dev.litetf.bench.Device;

/** This phone, as the results' {@code device} describes it. */
final class AndroidDevice {
    private AndroidDevice() {
    }

    static Device describe() {
        String cpu = Build.VERSION.SDK_INT >= Build.VERSION_CODES.S
                ? Build.SOC_MANUFACTURER + " " + Build.SOC_MODEL : Build.HARDWARE;
        return new Device(Build.MANUFACTURER + " " + Build.MODEL,
                "Android " + Build.VERSION.RELEASE + " (API " + Build.VERSION.SDK_INT + ")", cpu,
                Runtime.getRuntime().availableProcessors());
    }
}
