package flinkhologres.testjobs;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A job that cannot start. Argument "main": main() throws before anything is submitted. Otherwise
 * (default "task"): the job is submitted and its first task throws on its first record, so it
 * fails (or restarts, if a restart strategy is configured) right after reaching RUNNING.
 */
public final class FailingJob {

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "task";
        if ("main".equals(mode)) {
            throw new IllegalArgumentException("FailingJob refuses to build its pipeline (on purpose)");
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE).map(new Boom()).name("boom").print();
        env.execute("failing-job");
    }

    static final class Boom implements MapFunction<Long, Long> {
        @Override
        public Long map(Long value) throws InterruptedException {
            // Long enough for the job to be seen RUNNING first, as a real start-up failure would be.
            Thread.sleep(300);
            throw new IllegalStateException("boom: the test job fails on purpose at record " + value);
        }
    }

    private FailingJob() {}
}
