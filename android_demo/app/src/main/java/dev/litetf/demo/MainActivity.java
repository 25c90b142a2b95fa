package dev.litetf.demo;

import android.app.Activity;
import android.graphics.Insets;
import android.os.Build;
import android.os.Bundle;
import android.view.View;
import android.view.WindowInsets;
import android.view.WindowManager;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.CheckBox;
import android.widget.EditText;
import android.widget.ListView;
import android.widget.TableLayout;
import android.widget.TableRow;
import android.widget.TextView;

import java.io.File;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

import dev.litetf.bench.Options;
import dev.litetf.bench.Runner;
import dev.litetf.bench.Session;

/** The screen: pick models, threads and delegates, run, read the results table. Each run's JSON
 *  (lite_tf.benchmark/2) is also saved to results/ in the app's external files folder. */
public final class MainActivity extends Activity {
    private ListView models;
    private TextView status;
    private TableLayout table;
    private Button run;
    private boolean running;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(R.layout.activity_main);
        models = findViewById(R.id.models);
        status = findViewById(R.id.status);
        table = findViewById(R.id.results);
        run = findViewById(R.id.run);
        run.setOnClickListener(view -> start());
        keepClearOfSystemBars(findViewById(android.R.id.content));
    }

    /** Targeting SDK 35, Android 15 draws the app edge to edge: pad the content by the system bars
     *  and the display cutout, or the table runs under the navigation bar. */
    private static void keepClearOfSystemBars(View content) {
        content.setOnApplyWindowInsetsListener((view, insets) -> {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                Insets bars = insets.getInsets(WindowInsets.Type.systemBars() | WindowInsets.Type.displayCutout());
                view.setPadding(bars.left, bars.top, bars.right, bars.bottom);
                return WindowInsets.CONSUMED;
            }
            view.setPadding(insets.getSystemWindowInsetLeft(), insets.getSystemWindowInsetTop(),
                    insets.getSystemWindowInsetRight(), insets.getSystemWindowInsetBottom());
            return insets.consumeSystemWindowInsets();
        });
    }

    @Override
    protected void onResume() {
        super.onResume();
        run.setEnabled(false);
        new Thread(() -> {  // the first call after an install copies the bundled models: not on the UI thread
            List<String> names = new ArrayList<>();
            String problem = null;
            try {
                names.addAll(ModelStore.all(this).keySet());
            } catch (Exception e) {
                problem = Session.firstLine(e);
            }
            final String said = problem;
            runOnUiThread(() -> {
                if (!isDestroyed()) {
                    list(names, said);
                }
            });
        }, "lite_tf-models").start();
    }

    private void list(List<String> names, String problem) {
        if (problem != null) {
            status.setText(problem);
        }
        models.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_list_item_multiple_choice, names));
        for (int i = 0; i < names.size(); i++) {
            models.setItemChecked(i, true);
        }
        if (names.isEmpty()) {
            status.setText(R.string.no_models);
        }
        run.setEnabled(!names.isEmpty() && !running);
    }

    private void start() {
        List<String> chosen = new ArrayList<>();
        for (int i = 0; i < models.getCount(); i++) {
            if (models.isItemChecked(i)) {
                chosen.add((String) models.getItemAtPosition(i));
            }
        }
        Map<String, String> values = new HashMap<>();
        values.put("models", String.join(",", chosen));
        values.put("threads", checked(new int[] {R.id.threads_1, R.id.threads_2, R.id.threads_4}, "1", "2", "4"));
        values.put("delegates", checked(new int[] {R.id.delegate_xnnpack, R.id.delegate_cpu, R.id.delegate_gpu},
                "xnnpack", "cpu", "gpu"));
        values.put("runs", ((EditText) findViewById(R.id.runs)).getText().toString());
        final Options options;
        try {
            if (chosen.isEmpty()) {
                throw new IllegalArgumentException("choose at least one model");
            }
            options = Options.parse(values);
        } catch (IllegalArgumentException e) {
            status.setText(e.getMessage());
            return;
        }
        running = true;
        run.setEnabled(false);
        status.setText(R.string.running);
        getWindow().addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
        new Thread(() -> {
            String message;
            JSONObject document = null;
            try {
                document = Session.run(new LiteRtBackend(), new Runner(), AndroidDevice.describe(),
                        ModelStore.select(this, options.models), options, (index, total, model, delegate, threads) ->
                                runOnUiThread(() -> status.setText(String.format(Locale.ROOT, "[%d/%d] %s: %s, %d",
                                        index + 1, total, model.getName(), delegate, threads))));
                File out = new File(ModelStore.resultsDir(this), "ui-"
                        + new SimpleDateFormat("yyyyMMdd-HHmmss", Locale.ROOT).format(new Date()) + ".json");
                Session.write(document, out);
                message = "saved " + out;
            } catch (Throwable e) {  // an OutOfMemoryError too: say so rather than close the app
                message = Session.firstLine(e);
            }
            final String done = message;
            final JSONObject shown = document;
            runOnUiThread(() -> {
                status.setText(done);
                if (shown != null) {
                    show(shown);
                }
                running = false;
                run.setEnabled(true);
                getWindow().clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
            });
        }, "lite_tf-benchmark").start();
    }

    private String checked(int[] ids, String... values) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            if (((CheckBox) findViewById(ids[i])).isChecked()) {
                out.add(values[i]);
            }
        }
        return String.join(",", out);
    }

    /** The results as a table: model, delegate, threads, p50, mean, init, agreement with the host. */
    private void show(JSONObject document) {
        table.removeAllViews();
        addRow(true, "model", "delegate", "threads", "p50 ms", "mean ms", "init ms", "agreement");
        try {
            JSONArray results = document.getJSONArray("results");
            for (int i = 0; i < results.length(); i++) {
                JSONObject r = results.getJSONObject(i);
                addRow(false, r.getString("model"), r.getString("delegate"), String.valueOf(r.getInt("threads")),
                        format(r.getDouble("p50_ms")), format(r.getDouble("mean_ms")),
                        format(r.getDouble("init_ms")), r.isNull("agreement") ? "-"
                                : String.format(Locale.ROOT, "%.1f%% of %d", 100 * r.getDouble("agreement"),
                                r.getInt("samples")));
            }
            JSONArray errors = document.getJSONArray("errors");
            for (int i = 0; i < errors.length(); i++) {
                JSONObject e = errors.getJSONObject(i);
                addRow(false, e.getString("model"), e.getString("delegate"), String.valueOf(e.getInt("threads")),
                        "failed: " + e.getString("error"));
            }
        } catch (JSONException e) {
            status.setText(Session.firstLine(e));
        }
    }

    private void addRow(boolean header, String... cells) {
        TableRow row = new TableRow(this);
        for (String cell : cells) {
            TextView text = new TextView(this);
            text.setText(cell);
            text.setPadding(8, 4, 8, 4);
            if (header) {
                text.setTypeface(null, android.graphics.Typeface.BOLD);
            }
            row.addView(text);
        }
        table.addView(row);
    }

    private static String format(double millis) {
        return String.format(Locale.ROOT, "%.2f", millis);
    }
}
