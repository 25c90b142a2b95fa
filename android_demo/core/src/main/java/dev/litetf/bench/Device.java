package dev.litetf.bench;

import org.json.JSONException;
import org.json.JSONObject;

/** Where the benchmark ran: {@code device} in lite_tf.benchmark/2. */
public final class Device {
    public final String name;
    public final String os;
    public final String cpu;
    public final int cores;

    public Device(String name, String os, String cpu, int cores) {
        this.name = name;
        this.os = os;
        this.cpu = cpu;
        this.cores = cores;
    }

    public JSONObject toJson(Backend backend) throws JSONException {
        return new JSONObject().put("kind", "android").put("name", name).put("os", os).put("cpu", cpu)
                .put("cores", cores).put("runtime", new JSONObject().put("name", backend.runtimeName())
                        .put("version", Result.orNull(backend.runtimeVersion())));
    }
}
