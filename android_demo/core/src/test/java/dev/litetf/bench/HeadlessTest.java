package dev.litetf.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class HeadlessTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aRotatedOrRecreatedActivityStartsNoSecondRun() {
        Launches launches = new Launches();
        assertTrue(launches.first("r1", false));
        assertFalse("rotated: onCreate again with saved state", launches.first("r1", true));
        assertFalse("the same intent delivered again", launches.first("r1", false));
        assertFalse("re-created after the process died", launches.first("r2", true));
        assertTrue(launches.first("r3", false));
    }

    @Test
    public void stagedModelsAndTheirSamplesAreTakenAndStaleSamplesRemoved() throws Exception {
        File staging = tmp.newFolder("staging");
        File models = tmp.newFolder("models");
        File a = TestFiles.model(staging, "a_int8.tflite", 100);
        TestFiles.samples(a, 2, 0.5f, new int[] {1}, new int[] {1}, new byte[][] {new byte[16]});
        TestFiles.model(staging, "b_int8.tflite", 200);
        TestFiles.write(new File(models, "b_int8.samples"), "an older model's".getBytes(StandardCharsets.UTF_8));
        TestFiles.model(models, "bundled_int8.tflite", 50);
        Staging.take(staging, models, Arrays.asList("a_int8.tflite", "b_int8.tflite", "bundled_int8.tflite"));
        String[] names = models.list();
        Arrays.sort(names);
        assertEquals(Arrays.asList("a_int8.samples", "a_int8.tflite", "b_int8.tflite", "bundled_int8.tflite"),
                Arrays.asList(names));
        assertEquals(200, new File(models, "b_int8.tflite").length());
        assertEquals(Samples.readAll(Samples.besides(a)).length,
                Samples.readAll(new File(models, "a_int8.samples")).length);
    }
}
