package flinkhologres.testjobs;

import java.io.File;
import java.io.FileWriter;
import java.io.IOException;
import java.util.UUID;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Counts upwards forever, with state a savepoint must carry.
 *
 * <p>Operator state: the sequence source (parallelism 1) remembers the next number. Keyed state: a
 * per-key counter (key = n mod keys). Every record becomes one line "label n key count" in a file
 * under the output directory, flushed at once, so a test can prove that an upgrade from a savepoint
 * continues both the sequence and every key's count with no gap and no repeat.
 *
 * <p>Arguments: OUTPUT_DIR LABEL [KEYS=4] [DELAY_MS=2] [INIT_DELAY_MS=0] [FAIL_AFTER_MS=-1]. INIT_DELAY_MS
 * keeps the throttle's tasks INITIALIZING that long, i.e. the job is submitted but not yet all RUNNING: a
 * window in which a test can crash the deploying process. FAIL_AFTER_MS makes a broken version: 0 fails
 * while starting, N &gt; 0 runs (and writes) for N ms and then throws. Only APIs common to Flink 1.18 … 2.x.
 */
public final class CountingJob {

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            throw new IllegalArgumentException("usage: CountingJob OUTPUT_DIR LABEL [KEYS] [DELAY_MS]");
        }
        final String outputDir = args[0];
        final String label = args[1];
        final int keys = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        final long delayMs = args.length > 3 ? Long.parseLong(args[3]) : 2L;
        final long initDelayMs = args.length > 4 ? Long.parseLong(args[4]) : 0L;
        final long failAfterMs = args.length > 5 ? Long.parseLong(args[5]) : -1L;

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE)
                .setParallelism(1)
                .uid("sequence")
                .name("sequence")
                // Throttled next to the source (chained, same thread), so no backlog builds up in
                // network buffers and a savepoint barrier is never stuck behind thousands of records.
                .map(new Throttle(delayMs, initDelayMs, failAfterMs))
                .setParallelism(1)
                .uid("throttle")
                .name("throttle")
                .keyBy(new ModKey(keys))
                .process(new CountAndWrite(outputDir, label))
                .uid("count")
                .name("count")
                .print()
                .name("nothing");
        env.execute("counting-job " + label);
    }

    static final class Throttle implements MapFunction<Long, Long>, CheckpointedFunction {
        private final long delayMs;
        private final long initDelayMs;
        private final long failAfterMs;
        private transient long startedAt;

        Throttle(long delayMs, long initDelayMs, long failAfterMs) {
            this.delayMs = delayMs;
            this.initDelayMs = initDelayMs;
            this.failAfterMs = failAfterMs;
        }

        @Override
        public void initializeState(FunctionInitializationContext context) throws Exception {
            // Runs while the task is INITIALIZING (same interface in 1.18 and 2.x, unlike open()).
            if (initDelayMs > 0) {
                Thread.sleep(initDelayMs);
            }
            if (failAfterMs == 0) {
                throw new IllegalStateException("broken version: fails while starting (on purpose)");
            }
            startedAt = System.currentTimeMillis();
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {}

        @Override
        public Long map(Long value) throws Exception {
            if (failAfterMs > 0 && System.currentTimeMillis() - startedAt > failAfterMs) {
                throw new IllegalStateException("broken version: fails after " + failAfterMs + " ms (on purpose)");
            }
            if (delayMs > 0) {
                Thread.sleep(delayMs);
            }
            return value;
        }
    }

    static final class ModKey implements KeySelector<Long, Integer> {
        private final int keys;

        ModKey(int keys) {
            this.keys = keys;
        }

        @Override
        public Integer getKey(Long value) {
            return (int) (value % keys);
        }
    }

    static final class CountAndWrite extends KeyedProcessFunction<Integer, Long, String> {
        private final String outputDir;
        private final String label;
        private transient ValueState<Long> count;
        private transient FileWriter writer;

        CountAndWrite(String outputDir, String label) {
            this.outputDir = outputDir;
            this.label = label;
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<String> out) throws IOException {
            // Lazy set-up instead of open(): its signature differs between Flink 1.18 and 2.x.
            if (count == null) {
                count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
                File dir = new File(outputDir);
                dir.mkdirs();
                writer = new FileWriter(new File(dir, label + "-" + UUID.randomUUID() + ".txt"), true);
            }
            Long previous = count.value();
            long next = previous == null ? 1L : previous + 1L;
            count.update(next);
            writer.write(label + " " + value + " " + ctx.getCurrentKey() + " " + next + "\n");
            writer.flush();
        }
    }

    private CountingJob() {}
}
