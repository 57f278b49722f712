package flinkhologres.seq;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Properties;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * A gap-free sequence written into PostgreSQL over JDBC, with keyed state an upgrade must carry.
 *
 * <p>The source (parallelism 1, checkpointed) emits 0, 1, 2, …; every number becomes one row
 * (seq, version, written_at = the database clock) committed before the next. A number written again
 * (what a restore from a checkpoint replays) does not add a row: the upsert counts it in `writes` and
 * records who rewrote it and when, so a test sees rows lost (gaps), rows repeated (writes &gt; 1) and the
 * data gap of an upgrade (the last write of the old version to the first of the new one).
 *
 * <p>Keyed state: STATE_KEYS keys (n mod STATE_KEYS), each holding STATE_BYTES bytes, touched as the
 * sequence passes, so a snapshot carries STATE_KEYS × STATE_BYTES bytes.
 *
 * <p>Arguments: JDBC_URL USER PASSWORD TABLE VERSION [DELAY_MS=5] [STATE_KEYS=16] [STATE_BYTES=64].
 */
public final class SequenceWriter {

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            throw new IllegalArgumentException("usage: SequenceWriter JDBC_URL USER PASSWORD TABLE VERSION ...");
        }
        final long delayMs = args.length > 5 ? Long.parseLong(args[5]) : 5L;
        final int keys = args.length > 6 ? Integer.parseInt(args[6]) : 16;
        final int bytes = args.length > 7 ? Integer.parseInt(args[7]) : 64;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE)
                .setParallelism(1)
                .uid("sequence")
                .name("sequence")
                .map(new Throttle(delayMs))
                .setParallelism(1)
                .uid("throttle")
                .name("throttle")
                .keyBy(new ModKey(keys))
                .process(new Writer(args[0], args[1], args[2], args[3], args[4], bytes))
                .uid("writer")
                .name("writer");
        env.execute("sequence-writer " + args[4]);
    }

    static final class Throttle implements MapFunction<Long, Long> {
        private final long delayMs;

        Throttle(long delayMs) {
            this.delayMs = delayMs;
        }

        @Override
        public Long map(Long value) throws Exception {
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

    static final class Writer extends KeyedProcessFunction<Integer, Long, Void> {
        private final String url;
        private final String user;
        private final String password;
        private final String table;
        private final String version;
        private final int bytes;
        private transient ValueState<byte[]> padding;
        private transient Connection connection;
        private transient PreparedStatement upsert;

        Writer(String url, String user, String password, String table, String version, int bytes) {
            this.url = url;
            this.user = user;
            this.password = password;
            this.table = table;
            this.version = version;
            this.bytes = bytes;
        }

        private void connect() throws SQLException {
            Properties properties = new Properties();
            properties.setProperty("user", user);
            properties.setProperty("password", password);
            // The driver is bundled in this jar: DriverManager may not see Flink's user-code class loader.
            connection = new org.postgresql.Driver().connect(url, properties);
            connection.setAutoCommit(true);
            upsert = connection.prepareStatement("INSERT INTO " + table + " AS t (seq, version, written_at, writes)"
                    + " VALUES (?, ?, clock_timestamp(), 1) ON CONFLICT (seq) DO UPDATE SET writes = t.writes + 1,"
                    + " rewritten_by = EXCLUDED.version, rewritten_at = clock_timestamp()");
        }

        @Override
        public void processElement(Long seq, Context ctx, Collector<Void> out) throws Exception {
            // Lazy set-up instead of open(): its signature differs between Flink 1.x and 2.x.
            if (connection == null) {
                padding = getRuntimeContext().getState(new ValueStateDescriptor<>("padding", byte[].class));
                connect();
            }
            byte[] state = padding.value();
            if (state == null || state.length != bytes) {
                state = new byte[bytes];
            }
            state[(int) (seq % bytes)] ^= (byte) (seq & 0xff);  // a write, so incremental snapshots see a change
            padding.update(state);
            upsert.setLong(1, seq);
            upsert.setString(2, version);
            upsert.executeUpdate();
        }

        @Override
        public void close() throws Exception {
            if (connection != null) {
                connection.close();
            }
        }
    }

    private SequenceWriter() {}
}
