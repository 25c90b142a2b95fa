package dev.litetf.demo;

import android.app.Activity;
import android.os.Bundle;
import android.util.Log;
import android.view.WindowManager;
import android.widget.TextView;

import java.io.File;
import java.io.IOException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import org.json.JSONObject;

import dev.litetf.bench.Launches;
import dev.litetf.bench.Options;
import dev.litetf.bench.Runner;
import dev.litetf.bench.Session;
import dev.litetf.bench.Staging;

/**
 * The headless mode python -m export.phone starts:
 * {@code adb shell am start -S -n dev.litetf.demo/.HeadlessActivity --es run_id ID --es models
 * a.tflite,b.tflite --es threads 1,2,4 --es delegates xnnpack,gpu --es runs 50 --es warmup 5}.
 * It takes the named models pushed to {@link Staging#DIR} into its own models folder, writes
 * {@code results/ID.progress} as it goes, then {@code results/ID.json} (all at once), or one line
 * to {@code results/ID.error}, in the app's external files folder, and closes. Only holders of
 * android.permission.DUMP (the adb shell) may start it (the manifest); rotating the phone does not
 * re-create it (configChanges) and a re-created one starts nothing ({@link Launches}).
 */
public final class HeadlessActivity extends Activity {
    private static final String TAG = "lite_tf";

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        getWindow().addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
        TextView status = new TextView(this);
        status.setPadding(32, 32, 32, 32);
        setContentView(status);
        Map<String, String> extras = new HashMap<>();
        Bundle bundle = getIntent().getExtras();
        if (bundle != null) {
            for (String key : bundle.keySet()) {
                extras.put(key, String.valueOf(bundle.get(key)));  // --es and --ei alike
            }
        }
        String rawId = extras.getOrDefault("run_id", "results");
        String runId = Options.isRunId(rawId) ? rawId : "results";
        if (!Launches.PROCESS.first(runId, state != null)) {
            Log.w(TAG, "not starting " + runId + " again (re-created activity)");
            status.setText(getString(R.string.running));
            return;
        }
        new Thread(() -> benchmark(extras, runId, status), "lite_tf-benchmark").start();
    }

    private void benchmark(Map<String, String> extras, String runId, TextView status) {
        File results = null;
        try {
            results = ModelStore.resultsDir(this);
            Options options = Options.parse(extras);
            Staging.take(new File(Staging.DIR), ModelStore.modelsDir(this), options.models);
            File progress = new File(results, runId + ".progress");
            JSONObject document = Session.run(new LiteRtBackend(), new Runner(), AndroidDevice.describe(),
                    ModelStore.select(this, options.models), options, (index, total, model, delegate, threads) -> {
                        String line = String.format(Locale.ROOT, "[%d/%d] %s: %s, %d thread%s", index + 1, total,
                                model.getName(), delegate, threads, threads > 1 ? "s" : "");
                        Log.i(TAG, line);
                        runOnUiThread(() -> status.setText(line));
                        try {
                            Session.writeText(line + "\n", progress);
                        } catch (IOException e) {
                            Log.w(TAG, "cannot write " + progress, e);
                        }
                    });
            Session.write(document, new File(results, runId + ".json"));
            Log.i(TAG, "wrote " + new File(results, runId + ".json"));
        } catch (Throwable e) {  // an Error too: the host would otherwise wait for its timeout
            Log.e(TAG, "benchmark failed", e);
            if (results != null) {
                try {
                    Session.writeText(Session.firstLine(e) + "\n", new File(results, runId + ".error"));
                } catch (IOException ignored) {
                    Log.e(TAG, "cannot write the error file", ignored);
                }
            }
        } finally {
            runOnUiThread(this::finish);
        }
    }
}
