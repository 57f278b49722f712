package flinkhologres.testjobs;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A job that cannot start. Argument "main": main() throws before anything is submitted. Otherwise
 * (default "task"): the job is submitted and its task throws while initializing (where a real sink
 * fails to connect), so the task never reaches RUNNING; the job fails, or restarts if a restart
 * strategy is configured.
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

    static final class Boom implements MapFunction<Long, Long>, CheckpointedFunction {
        @Override
        public void initializeState(FunctionInitializationContext context) throws InterruptedException {
            // Not instantly: a real connector takes a moment before it gives up.
            Thread.sleep(300);
            throw new IllegalStateException("boom: the test job fails on purpose while starting");
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {}

        @Override
        public Long map(Long value) {
            return value;
        }
    }

    private FailingJob() {}
}
