import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.regex.Pattern;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.StickyAssignor;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * A long-running member of a consumer group: Java's {@code KafkaConsumer} (kafka-clients, the
 * version of the test broker) subscribed with a rebalance listener, reporting every event as one
 * line on standard output. The testkit's kafka::group_peer module starts it and reads the lines;
 * testkit/kafka/group_member.py is the same program for librdkafka and prints the same lines.
 *
 * <p>Usage: {@code java -cp CLASSES:LIBS/* GroupMemberPeer BOOTSTRAP TIMEOUT_SECONDS
 * (--topics T1,T2 | --pattern REGEX) [--delay-ms N] [K=V ...]}. The properties are the
 * consumer's ({@code group.id}, {@code partition.assignment.strategy}, {@code enable.auto.commit}
 * ...); byte-array deserializers and the bootstrap servers are set here. In {@code
 * partition.assignment.strategy} the short names {@code range}, {@code roundrobin}, {@code
 * sticky} and {@code cooperative-sticky} (librdkafka's) stand for Java's assignor classes.
 * {@code --delay-ms} sleeps that long per record before counting it processed (a slow member).
 * The program halts with status 3 once it has run TIMEOUT_SECONDS.
 *
 * <p>Commands on standard input, one per line: {@code stop} (and the end of input): commit what
 * was processed when auto-commit is off, close the consumer (which leaves the group), print
 * {@code closed} and exit 0; {@code kill}: halt at once, closing nothing (the member stays in the
 * group until its session times out); {@code commit}: commit what was processed, synchronously
 * (auto-commit on or off).
 *
 * <p>Lines printed (topics have no spaces; TP... is a list of TOPIC PARTITION pairs, maybe
 * empty):
 *
 * <ul>
 *   <li>{@code ready}: subscribed, before the first poll.
 *   <li>{@code assigned TP...}, {@code revoked TP...}, {@code lost TP...}: the rebalance
 *       listener's calls, with the partitions it was given (cooperative protocols give the
 *       increments). On revocation, processed offsets of the revoked partitions are committed
 *       first when auto-commit is off.
 *   <li>{@code records TOPIC PARTITION FIRST LAST COUNT GENERATION AT_MS [OFFSET ...]}: COUNT
 *       records of one partition processed from one poll, offsets FIRST to LAST, at AT_MS
 *       (wall-clock milliseconds since the epoch), in group generation GENERATION (-1 when not
 *       known); the offsets are listed only when they are not exactly FIRST..=LAST.
 *   <li>{@code committed TOPIC PARTITION OFFSET ...}: a synchronous commit of these next
 *       offsets succeeded; {@code commit-failed MESSAGE}: it failed.
 *   <li>{@code closed}: the consumer closed, the program exits 0.
 *   <li>{@code error MESSAGE}: an unexpected failure; the program exits 1.
 * </ul>
 */
public final class GroupMemberPeer {
    private static final Duration POLL = Duration.ofMillis(100);
    private static final PrintStream OUT = new PrintStream(System.out, false, StandardCharsets.UTF_8);

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final boolean autoCommit;
    private final long delayMs;
    /** Partitions owned now (assigned and neither revoked nor lost since). */
    private final Set<TopicPartition> owned = new HashSet<>();
    /** Per owned partition, the offset after the last record processed. */
    private final Map<TopicPartition, Long> processed = new HashMap<>();
    /** Per partition, the offset last committed by this member. */
    private final Map<TopicPartition, Long> committed = new HashMap<>();
    private final LinkedBlockingQueue<String> commands = new LinkedBlockingQueue<>();
    private volatile boolean stopping;

    private GroupMemberPeer(KafkaConsumer<byte[], byte[]> consumer, boolean autoCommit, long delayMs) {
        this.consumer = consumer;
        this.autoCommit = autoCommit;
        this.delayMs = delayMs;
    }

    static synchronized void emit(String line) {
        OUT.println(line);
        OUT.flush();
    }

    public static void main(String[] args) {
        if (args.length < 4) {
            System.err.println("usage: GroupMemberPeer BOOTSTRAP TIMEOUT_SECONDS (--topics T,.. | --pattern RE) [--delay-ms N] [K=V ...]");
            System.exit(2);
        }
        long timeoutMs = Long.parseLong(args[1]) * 1000L;
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(timeoutMs);
                System.err.println("GroupMemberPeer: timed out after " + args[1] + " s");
                Runtime.getRuntime().halt(3);
            } catch (InterruptedException e) {
                // finished in time
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            run(args);
        } catch (Throwable e) {
            emit("error " + e.getClass().getName() + ": " + oneLine(e.getMessage()));
            e.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
        Runtime.getRuntime().halt(0);
    }

    private static void run(String[] args) throws Exception {
        List<String> topics = null;
        Pattern pattern = null;
        long delayMs = 0;
        Properties p = new Properties();
        for (int i = 2; i < args.length; i++) {
            switch (args[i]) {
                case "--topics":
                    topics = Arrays.asList(args[++i].split(","));
                    break;
                case "--pattern":
                    pattern = Pattern.compile(args[++i]);
                    break;
                case "--delay-ms":
                    delayMs = Long.parseLong(args[++i]);
                    break;
                default: {
                    int eq = args[i].indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("not a property: " + args[i]);
                    }
                    p.put(args[i].substring(0, eq), args[i].substring(eq + 1));
                }
            }
        }
        if ((topics == null) == (pattern == null)) {
            throw new IllegalArgumentException("give one of --topics and --pattern");
        }
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        String strategy = p.getProperty(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG);
        if (strategy != null) {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignorClasses(strategy));
        }
        boolean autoCommit = Boolean.parseBoolean(p.getProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true"));

        GroupMemberPeer member = new GroupMemberPeer(new KafkaConsumer<>(p), autoCommit, delayMs);
        member.readCommands();
        Listener listener = member.new Listener();
        if (topics != null) {
            member.consumer.subscribe(topics, listener);
        } else {
            member.consumer.subscribe(pattern, listener);
        }
        emit("ready");
        member.loop();
    }

    /** Java's assignor class names for librdkafka's short names; other entries stay. */
    private static String assignorClasses(String list) {
        List<String> out = new ArrayList<>();
        for (String name : list.split(",")) {
            switch (name.trim()) {
                case "range":
                    out.add(RangeAssignor.class.getName());
                    break;
                case "roundrobin":
                    out.add(RoundRobinAssignor.class.getName());
                    break;
                case "sticky":
                    out.add(StickyAssignor.class.getName());
                    break;
                case "cooperative-sticky":
                    out.add(CooperativeStickyAssignor.class.getName());
                    break;
                default:
                    out.add(name.trim());
            }
        }
        return String.join(",", out);
    }

    /** Standard input, read on a thread of its own: {@code kill} halts here, the rest is queued. */
    private void readCommands() {
        Thread reader = new Thread(() -> {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            try {
                String line;
                while ((line = in.readLine()) != null) {
                    line = line.trim();
                    if (line.equals("kill")) {
                        Runtime.getRuntime().halt(0);
                    }
                    if (line.equals("stop")) {
                        stopping = true;
                    }
                    if (!line.isEmpty()) {
                        commands.add(line);
                    }
                }
            } catch (Exception e) {
                // as the end of input
            }
            stopping = true;
            commands.add("stop");
        });
        reader.setDaemon(true);
        reader.start();
    }

    private void loop() {
        while (true) {
            String command;
            while ((command = commands.poll()) != null) {
                switch (command) {
                    case "stop":
                        close();
                        return;
                    case "commit":
                        commit(new ArrayList<>(owned), true);
                        break;
                    default:
                        System.err.println("GroupMemberPeer: unknown command " + command);
                }
            }
            ConsumerRecords<byte[], byte[]> records = consumer.poll(POLL);
            for (TopicPartition tp : records.partitions()) {
                process(tp, records.records(tp));
            }
        }
    }

    /** Processes one poll's records of `tp` (sleeping per record when asked) and reports them. */
    private void process(TopicPartition tp, List<ConsumerRecord<byte[], byte[]>> records) {
        if (!owned.contains(tp)) {
            // Fetched before a revocation: not ours to process.
            return;
        }
        List<Long> offsets = new ArrayList<>(records.size());
        for (ConsumerRecord<byte[], byte[]> r : records) {
            if (stopping) {
                break;
            }
            if (delayMs > 0) {
                try {
                    Thread.sleep(delayMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            offsets.add(r.offset());
        }
        if (offsets.size() < records.size()) {
            // Stopping: what was not processed is not consumed either (auto-commit on close
            // commits the position).
            consumer.seek(tp, records.get(offsets.size()).offset());
        }
        if (offsets.isEmpty()) {
            return;
        }
        long first = offsets.get(0);
        long last = offsets.get(offsets.size() - 1);
        processed.put(tp, last + 1);
        StringBuilder line = new StringBuilder("records ")
            .append(tp.topic()).append(' ').append(tp.partition()).append(' ')
            .append(first).append(' ').append(last).append(' ').append(offsets.size()).append(' ')
            .append(consumer.groupMetadata().generationId()).append(' ')
            .append(System.currentTimeMillis());
        if (last - first + 1 != offsets.size()) {
            for (long o : offsets) {
                line.append(' ').append(o);
            }
        }
        emit(line.toString());
    }

    /**
     * Commits the processed offsets of `partitions` not committed yet: when asked by a command,
     * or else (on revocation and close) when auto-commit is off.
     */
    private void commit(Collection<TopicPartition> partitions, boolean asked) {
        if (autoCommit && !asked) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = new TreeMap<>(GroupMemberPeer::compare);
        for (TopicPartition tp : partitions) {
            Long next = processed.get(tp);
            if (next != null && !next.equals(committed.get(tp))) {
                offsets.put(tp, new OffsetAndMetadata(next));
            }
        }
        if (offsets.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(offsets);
        } catch (Exception e) {
            emit("commit-failed " + e.getClass().getSimpleName() + ": " + oneLine(e.getMessage()));
            return;
        }
        StringBuilder line = new StringBuilder("committed");
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            committed.put(e.getKey(), e.getValue().offset());
            line.append(' ').append(e.getKey().topic()).append(' ').append(e.getKey().partition())
                .append(' ').append(e.getValue().offset());
        }
        emit(line.toString());
    }

    private void close() {
        commit(new ArrayList<>(owned), false);
        consumer.close();
        emit("closed");
    }

    private static int compare(TopicPartition a, TopicPartition b) {
        int c = a.topic().compareTo(b.topic());
        return c != 0 ? c : Integer.compare(a.partition(), b.partition());
    }

    private static String list(String what, Collection<TopicPartition> partitions) {
        List<TopicPartition> sorted = new ArrayList<>(partitions);
        sorted.sort(GroupMemberPeer::compare);
        StringBuilder line = new StringBuilder(what);
        for (TopicPartition tp : sorted) {
            line.append(' ').append(tp.topic()).append(' ').append(tp.partition());
        }
        return line.toString();
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
    }

    /** Reports the listener's calls and commits what was processed before a revocation. */
    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            commit(partitions, false);
            emit(list("revoked", partitions));
            drop(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            owned.addAll(partitions);
            emit(list("assigned", partitions));
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            emit(list("lost", partitions));
            drop(partitions);
        }

        private void drop(Collection<TopicPartition> partitions) {
            owned.removeAll(partitions);
            for (TopicPartition tp : partitions) {
                processed.remove(tp);
                committed.remove(tp);
            }
        }
    }
}
