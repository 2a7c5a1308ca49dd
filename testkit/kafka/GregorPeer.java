import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * gregor's reference peer: Java's own Kafka client (kafka-clients, the version of the test
 * broker) driven by a script of one command per line on standard input. The testkit's
 * kafka::peer module writes the scripts and reads the answers.
 *
 * <p>Usage: {@code java -cp CLASSES:LIBS/* GregorPeer BOOTSTRAP TIMEOUT_SECONDS}. The program
 * exits with status 3 when it runs longer than TIMEOUT_SECONDS, and with status 1 (after a line
 * {@code error ...}) when a command fails. Byte strings are written {@code -} for null and
 * {@code x} followed by lowercase hex digits otherwise ({@code x} alone is empty).
 *
 * <p>Several producers can be open at once, each under a name; the producer commands ({@code
 * producer}, {@code init}, {@code begin}, {@code commit}, {@code abort}, {@code send}, {@code
 * flush}, {@code close}) act on the current one, named {@code default} until a {@code use}
 * command names another.
 *
 * <ul>
 *   <li>{@code use NAME}: makes the producer named NAME the current one (created by the next
 *       {@code producer} command if there is none of that name yet).
 *   <li>{@code producer K=V ...}: a producer with these properties (byte-array serializers),
 *       replacing (and closing) the current one.
 *   <li>{@code init}, {@code begin}, {@code commit}, {@code abort}: the transaction calls.
 *   <li>{@code send TOPIC PARTITION KEY VALUE [HKEY=HVALUE ...]}: an asynchronous send; PARTITION
 *       -1 lets the producer's partitioner choose; HKEY is the header key's UTF-8 bytes.
 *   <li>{@code flush}: flushes, then prints {@code ack TOPIC PARTITION OFFSET} for each send since
 *       the last flush, in send order.
 *   <li>{@code close}: closes the producer.
 *   <li>{@code consume TOPIC [K=V ...]}: a consumer without a group assigned every partition of
 *       TOPIC from the beginning reads up to the end offsets it sees when it starts (under
 *       read_committed, the last stable offsets), printing {@code record PARTITION OFFSET
 *       TIMESTAMP KEY VALUE [HKEY=HVALUE ...]} per record, in partition then offset order, then
 *       {@code consumed COUNT}.
 *   <li>{@code partition COUNT KEY ...}: prints {@code partition P} per key, the partition Java's
 *       built-in partitioner picks for that key among COUNT partitions.
 *   <li>{@code commit-offset GROUP TOPIC PARTITION OFFSET EPOCH METADATA}: commits one offset for GROUP
 *       without joining it (EPOCH -1: no leader epoch; METADATA as bytes of UTF-8).
 *   <li>{@code committed GROUP TOPIC PARTITION}: prints {@code committed OFFSET EPOCH METADATA}
 *       (EPOCH -1 when absent) or {@code committed none}.
 *   <li>{@code halt}: prints {@code ok} and exits at once with status 0, closing no producer:
 *       a transaction begun and not ended stays open on the broker (until it times out, or a
 *       producer with the same {@code transactional.id} calls {@code init}, which aborts it).
 * </ul>
 *
 * Every command ends with a line {@code ok}. At the end of the script every producer still open
 * is closed (which aborts a transaction left open).
 */
public final class GregorPeer {
    private static final Duration POLL = Duration.ofMillis(200);

    private final String bootstrap;
    private final PrintStream out;
    /** The open producers by name, in the order they were made. */
    private final Map<String, KafkaProducer<byte[], byte[]>> producers = new LinkedHashMap<>();
    /** Per producer name, the sends since its last flush. */
    private final Map<String, List<Future<RecordMetadata>>> pending = new HashMap<>();
    private String current = "default";

    private GregorPeer(String bootstrap, PrintStream out) {
        this.bootstrap = bootstrap;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: GregorPeer BOOTSTRAP TIMEOUT_SECONDS");
            System.exit(2);
        }
        long timeoutMs = Long.parseLong(args[1]) * 1000L;
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(timeoutMs);
                System.err.println("GregorPeer: timed out after " + args[1] + " s");
                Runtime.getRuntime().halt(3);
            } catch (InterruptedException e) {
                // finished in time
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();

        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        GregorPeer peer = new GregorPeer(args[0], out);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int lineNo = 0;
        try {
            while ((line = in.readLine()) != null) {
                lineNo++;
                line = line.trim();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                peer.run(line.split(" "));
                out.println("ok");
                out.flush();
            }
            for (KafkaProducer<byte[], byte[]> p : peer.producers.values()) {
                p.close();
            }
        } catch (Exception e) {
            out.println("error line " + lineNo + ": " + e.getClass().getName() + ": " + e.getMessage());
            out.flush();
            e.printStackTrace();
            System.exit(1);
        }
        out.flush();
        System.exit(0);
    }

    private void run(String[] w) throws Exception {
        switch (w[0]) {
            case "use":
                if (w.length != 2) {
                    throw new IllegalArgumentException("use NAME");
                }
                current = w[1];
                break;
            case "producer": {
                Properties p = props(w, 1);
                p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                KafkaProducer<byte[], byte[]> old = producers.remove(current);
                if (old != null) {
                    old.close();
                }
                pending.remove(current);
                producers.put(current, new KafkaProducer<>(p));
                break;
            }
            case "init":
                producer().initTransactions();
                break;
            case "begin":
                producer().beginTransaction();
                break;
            case "commit":
                producer().commitTransaction();
                break;
            case "abort":
                producer().abortTransaction();
                break;
            case "send": {
                int partition = Integer.parseInt(w[2]);
                List<Header> headers = new ArrayList<>();
                for (int i = 5; i < w.length; i++) {
                    int eq = w[i].indexOf('=');
                    byte[] hkey = bytes(w[i].substring(0, eq));
                    headers.add(new RecordHeader(new String(hkey, StandardCharsets.UTF_8), bytes(w[i].substring(eq + 1))));
                }
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                    w[1], partition < 0 ? null : partition, null, bytes(w[3]), bytes(w[4]), headers);
                Future<RecordMetadata> sent = producer().send(record);
                pending.computeIfAbsent(current, k -> new ArrayList<>()).add(sent);
                break;
            }
            case "flush": {
                producer().flush();
                List<Future<RecordMetadata>> sent = pending.remove(current);
                for (Future<RecordMetadata> f : sent == null ? Collections.<Future<RecordMetadata>>emptyList() : sent) {
                    RecordMetadata m = f.get();
                    out.println("ack " + m.topic() + " " + m.partition() + " " + m.offset());
                }
                break;
            }
            case "close":
                producer().close();
                producers.remove(current);
                pending.remove(current);
                break;
            case "halt":
                out.println("ok");
                out.flush();
                Runtime.getRuntime().halt(0);
                break;
            case "consume":
                consume(w[1], props(w, 2));
                break;
            case "partition": {
                int count = Integer.parseInt(w[1]);
                for (int i = 2; i < w.length; i++) {
                    out.println("partition " + BuiltInPartitioner.partitionForKey(bytes(w[i]), count));
                }
                break;
            }
            case "commit-offset": {
                try (KafkaConsumer<byte[], byte[]> c = consumer(w[1], new Properties())) {
                    int epoch = Integer.parseInt(w[5]);
                    OffsetAndMetadata om = new OffsetAndMetadata(
                        Long.parseLong(w[4]),
                        epoch < 0 ? Optional.empty() : Optional.of(epoch),
                        new String(bytes(w[6]), StandardCharsets.UTF_8));
                    c.commitSync(Collections.singletonMap(new TopicPartition(w[2], Integer.parseInt(w[3])), om));
                }
                break;
            }
            case "committed": {
                try (KafkaConsumer<byte[], byte[]> c = consumer(w[1], new Properties())) {
                    TopicPartition tp = new TopicPartition(w[2], Integer.parseInt(w[3]));
                    OffsetAndMetadata om = c.committed(Collections.singleton(tp)).get(tp);
                    if (om == null) {
                        out.println("committed none");
                    } else {
                        out.println("committed " + om.offset() + " " + om.leaderEpoch().orElse(-1) + " "
                            + hex(om.metadata().getBytes(StandardCharsets.UTF_8)));
                    }
                }
                break;
            }
            default:
                throw new IllegalArgumentException("unknown command " + w[0]);
        }
    }

    private KafkaProducer<byte[], byte[]> producer() {
        KafkaProducer<byte[], byte[]> p = producers.get(current);
        if (p == null) {
            throw new IllegalStateException("no producer " + current + ": send a producer line first");
        }
        return p;
    }

    private KafkaConsumer<byte[], byte[]> consumer(String group, Properties p) {
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        return new KafkaConsumer<>(p);
    }

    private void consume(String topic, Properties p) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(null, p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo info : c.partitionsFor(topic, Duration.ofSeconds(30))) {
                tps.add(new TopicPartition(topic, info.partition()));
            }
            tps.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> got = new HashMap<>();
            while (true) {
                boolean done = true;
                for (TopicPartition tp : tps) {
                    if (c.position(tp) < end.get(tp)) {
                        done = false;
                    }
                }
                if (done) {
                    break;
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (r.offset() < end.get(tp)) {
                        got.computeIfAbsent(tp, k -> new ArrayList<>()).add(r);
                    }
                }
            }
            int count = 0;
            for (TopicPartition tp : tps) {
                for (ConsumerRecord<byte[], byte[]> r : got.getOrDefault(tp, Collections.emptyList())) {
                    count++;
                    StringBuilder line = new StringBuilder("record ")
                        .append(r.partition()).append(' ').append(r.offset()).append(' ')
                        .append(r.timestamp()).append(' ').append(hex(r.key())).append(' ').append(hex(r.value()));
                    for (Header h : r.headers()) {
                        line.append(' ').append(hex(h.key().getBytes(StandardCharsets.UTF_8)))
                            .append('=').append(hex(h.value()));
                    }
                    out.println(line);
                }
            }
            out.println("consumed " + count);
        }
    }

    private static Properties props(String[] w, int from) {
        Properties p = new Properties();
        for (int i = from; i < w.length; i++) {
            int eq = w[i].indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("not a property: " + w[i]);
            }
            p.put(w[i].substring(0, eq), w[i].substring(eq + 1));
        }
        return p;
    }

    private static byte[] bytes(String s) {
        if (s.equals("-")) {
            return null;
        }
        if (!s.startsWith("x") || s.length() % 2 != 1) {
            throw new IllegalArgumentException("not a byte string: " + s);
        }
        byte[] b = new byte[(s.length() - 1) / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(1 + 2 * i, 3 + 2 * i), 16);
        }
        return b;
    }

    private static String hex(byte[] b) {
        if (b == null) {
            return "-";
        }
        StringBuilder s = new StringBuilder(1 + 2 * b.length).append('x');
        for (byte x : b) {
            s.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return s.toString();
    }
}
