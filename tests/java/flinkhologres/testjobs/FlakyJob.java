package flinkhologres.testjobs;

import java.io.File;
import java.io.IOException;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Runs, fails once, then runs for good: a forced restart. Arguments: MARKER_FILE [FAIL_AFTER_MS=3000].
 *
 * <p>The first attempt processes records for FAIL_AFTER_MS, creates MARKER_FILE and throws; with a restart
 * strategy the job restarts, finds the marker and never fails again. Only APIs common to Flink 1.18 … 2.x.
 */
public final class FlakyJob {

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            throw new IllegalArgumentException("usage: FlakyJob MARKER_FILE [FAIL_AFTER_MS]");
        }
        final String marker = args[0];
        final long failAfterMs = args.length > 1 ? Long.parseLong(args[1]) : 3000L;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE)
                .setParallelism(1)
                .map(new FailOnce(marker, failAfterMs))
                .setParallelism(1)
                .name("fail-once")
                .print()
                .name("nothing");
        env.execute("flaky-job");
    }

    static final class FailOnce implements MapFunction<Long, Long> {
        private final String marker;
        private final long failAfterMs;
        private transient long startedAt;

        FailOnce(String marker, long failAfterMs) {
            this.marker = marker;
            this.failAfterMs = failAfterMs;
        }

        @Override
        public Long map(Long value) throws IOException, InterruptedException {
            Thread.sleep(5);
            if (startedAt == 0L) {
                startedAt = System.currentTimeMillis();
            }
            File file = new File(marker);
            if (!file.exists() && System.currentTimeMillis() - startedAt > failAfterMs) {
                file.getParentFile().mkdirs();
                file.createNewFile();
                throw new IllegalStateException("flaky: the test job fails once on purpose");
            }
            return value;
        }
    }

    private FlakyJob() {}
}
