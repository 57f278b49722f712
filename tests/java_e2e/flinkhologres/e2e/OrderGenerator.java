package flinkhologres.e2e;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.Properties;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * A stand-in for the tutorial's HologresSinkExample: it reads the same HOLO_* environment variables
 * (HOLO_ENDPOINT, HOLO_TEST_DB, HOLO_ACCESS_ID, HOLO_ACCESS_KEY, HOLO_TABLE_NAME) and writes rows of
 * the tutorial's schema over the PostgreSQL protocol, which Hologres speaks, with the plain JDBC driver.
 *
 * <p>Each row carries a sequence number as user_id. The sequence comes from a checkpointed source
 * (parallelism 1) and every row is committed before the next, so a savepoint upgrade must continue
 * the sequence with no gap; the table's primary key makes a repeat fail the job. Plain INSERT, no
 * upsert, on purpose: a repeated number must be visible, not absorbed.
 *
 * <p>Arguments: [DELAY_MS=20].
 */
public final class OrderGenerator {

    public static void main(String[] args) throws Exception {
        final long delayMs = args.length > 0 ? Long.parseLong(args[0]) : 20L;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE)
                .setParallelism(1)
                .uid("orders")
                .name("orders")
                .map(new Throttle(delayMs))
                .setParallelism(1)
                .uid("throttle")
                .name("throttle")
                .keyBy(new Shard())
                .process(new HologresWriter())
                .uid("hologres-sink")
                .name("hologres-sink");
        env.execute("order-generator");
    }

    static final class Throttle implements MapFunction<Long, Long> {
        private final long delayMs;

        Throttle(long delayMs) {
            this.delayMs = delayMs;
        }

        @Override
        public Long map(Long value) throws Exception {
            Thread.sleep(delayMs);
            return value;
        }
    }

    static final class Shard implements KeySelector<Long, Integer> {
        @Override
        public Integer getKey(Long value) {
            return (int) (value % 8);
        }
    }

    static final class HologresWriter extends KeyedProcessFunction<Integer, Long, Void> {
        private static final String[] PROVINCES = {"Zhejiang", "Jiangsu", "Guangdong", "Sichuan"};
        private transient Connection connection;
        private transient PreparedStatement insert;

        private static String env(String name) {
            String value = System.getenv(name);
            if (value == null || value.isEmpty()) {
                throw new IllegalStateException("environment variable " + name + " is not set");
            }
            return value;
        }

        private void connect() throws SQLException {
            // The tutorial's variables; the table name is schema.table.
            String url = "jdbc:postgresql://" + env("HOLO_ENDPOINT") + "/" + env("HOLO_TEST_DB");
            Properties properties = new Properties();
            properties.setProperty("user", env("HOLO_ACCESS_ID"));
            properties.setProperty("password", env("HOLO_ACCESS_KEY"));
            // The driver is bundled in this jar: instantiate it directly, as DriverManager may not
            // see classes of Flink's user-code class loader.
            connection = new org.postgresql.Driver().connect(url, properties);
            connection.setAutoCommit(true);
            String[] table = env("HOLO_TABLE_NAME").split("\\.", 2);
            insert = connection.prepareStatement(
                    "INSERT INTO \"" + table[0].replace("\"", "\"\"") + "\".\"" + table[1].replace("\"", "\"\"")
                            + "\" (user_id, user_name, item_id, item_name, price, province, city, longitude,"
                            + " latitude, ip, sale_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        }

        @Override
        public void processElement(Long seq, Context ctx, Collector<Void> out) throws Exception {
            // Lazy set-up instead of open(): its signature differs between Flink 1.x and 2.x.
            if (connection == null) {
                connect();
            }
            insert.setLong(1, seq);
            insert.setString(2, "user-" + seq);
            insert.setLong(3, seq % 100);
            insert.setString(4, "item-" + (seq % 100));
            insert.setBigDecimal(5, BigDecimal.valueOf(seq % 10000, 2));
            insert.setString(6, PROVINCES[(int) (seq % PROVINCES.length)]);
            insert.setString(7, "city-" + (seq % 17));
            insert.setString(8, "120." + (seq % 1000));
            insert.setString(9, "30." + (seq % 1000));
            insert.setString(10, "10.0." + (seq % 256) + "." + (seq % 7));
            insert.setTimestamp(11, new Timestamp(System.currentTimeMillis()));
            insert.executeUpdate();
        }

        @Override
        public void close() throws Exception {
            if (connection != null) {
                connection.close();
            }
        }
    }
}
