import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Assignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupAssignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupSubscription;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.StickyAssignor;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * Java's built-in consumer assignors as a reference for gregor's: reads group assignment cases
 * from standard input, runs the named assignor of kafka-clients on each (a fresh instance per
 * case, as a group leader would call it) and prints every member's assignment. The testkit's
 * kafka::assignor_peer module writes the cases and reads the answers.
 *
 * <p>The members' subscriptions go into a {@code new HashMap<>()} in the order of the input, as
 * a leader fills its map in the order of the JoinGroup response: where member ids share a bucket
 * that order is the map's iteration order, which decides ties in the sticky assignors.
 *
 * <p>Usage: {@code java -cp CLASSES:LIBS/* AssignorPeer TIMEOUT_SECONDS}; exits with status 3
 * when it runs longer, with status 1 (after a line {@code error ...} outside a case) on input it
 * cannot read. Names (topics, member ids, instance ids, racks) are single words without
 * {@code ,} or {@code :}; {@code -} stands for none and {@code ""} for the empty name. Byte strings are {@code -} for null and
 * {@code x} followed by lowercase hex digits otherwise.
 *
 * <p>Input, one case after another:
 *
 * <pre>
 * case LABEL ASSIGNOR            (range, roundrobin, sticky, cooperative-sticky)
 * node ID RACK                   (a broker, with its rack or -)
 * partition TOPIC INDEX REPLICAS (REPLICAS: node ids joined by , or -)
 * member ID INSTANCE RACK GENERATION USERDATA TOPICS OWNED
 *                                (TOPICS: joined by , or -; OWNED: TOPIC:INDEX joined by , or -)
 * end
 * </pre>
 *
 * <p>Output per case: {@code case LABEL}, then a line {@code member ID PARTITIONS USERDATA} per
 * member of Java's answer, by member id (PARTITIONS: TOPIC:INDEX joined by , in Java's order, or
 * -), or a single {@code error MESSAGE} line when the assignor threw; then {@code end}.
 */
public final class AssignorPeer {
    private AssignorPeer() {}

    /** One case as read. */
    private static final class Case {
        String label;
        String assignor;
        final Map<Integer, Node> nodes = new HashMap<>();
        final List<String[]> partitions = new ArrayList<>();
        final Map<String, Subscription> members = new HashMap<>();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: AssignorPeer TIMEOUT_SECONDS");
            System.exit(2);
        }
        long timeoutMs = Long.parseLong(args[0]) * 1000L;
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(timeoutMs);
                System.err.println("AssignorPeer: timed out after " + args[0] + " s");
                Runtime.getRuntime().halt(3);
            } catch (InterruptedException e) {
                // finished in time
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();

        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int lineNo = 0;
        Case current = null;
        try {
            while ((line = in.readLine()) != null) {
                lineNo++;
                line = line.trim();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                String[] w = line.split(" +");
                switch (w[0]) {
                    case "case":
                        words(w, 3);
                        current = new Case();
                        current.label = name(w[1]);
                        current.assignor = w[2];
                        break;
                    case "node":
                        words(w, 3);
                        int id = Integer.parseInt(w[1]);
                        inCase(current).nodes.put(id, new Node(id, "localhost", 9092 + id, none(w[2])));
                        break;
                    case "partition":
                        words(w, 4);
                        inCase(current).partitions.add(w);
                        break;
                    case "member":
                        words(w, 8);
                        inCase(current).members.put(name(w[1]), subscription(w));
                        break;
                    case "end":
                        run(inCase(current), out);
                        current = null;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown command " + w[0]);
                }
            }
        } catch (Exception e) {
            out.println("error line " + lineNo + ": " + oneLine(e));
            out.flush();
            e.printStackTrace();
            System.exit(1);
        }
        out.flush();
        System.exit(0);
    }

    private static void words(String[] w, int n) {
        if (w.length != n) {
            throw new IllegalArgumentException(w[0] + " takes " + (n - 1) + " arguments, not " + (w.length - 1));
        }
    }

    private static Case inCase(Case c) {
        if (c == null) {
            throw new IllegalArgumentException("not within a case");
        }
        return c;
    }

    private static String none(String s) {
        return s.equals("-") ? null : name(s);
    }

    private static String name(String s) {
        return s.equals("\"\"") ? "" : s;
    }

    private static String word(String s) {
        return s.isEmpty() ? "\"\"" : s;
    }

    private static List<String> list(String s) {
        List<String> l = new ArrayList<>();
        if (!s.equals("-")) {
            for (String name : s.split(",")) {
                l.add(name(name));
            }
        }
        return l;
    }

    private static TopicPartition topicPartition(String s) {
        int colon = s.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("not TOPIC:INDEX: " + s);
        }
        return new TopicPartition(name(s.substring(0, colon)), Integer.parseInt(s.substring(colon + 1)));
    }

    /** member ID INSTANCE RACK GENERATION USERDATA TOPICS OWNED */
    private static Subscription subscription(String[] w) {
        byte[] userData = bytes(w[5]);
        List<TopicPartition> owned = new ArrayList<>();
        for (String tp : list(w[7])) {
            owned.add(topicPartition(tp));
        }
        Subscription s = new Subscription(
            list(w[6]),
            userData == null ? null : ByteBuffer.wrap(userData),
            owned,
            Integer.parseInt(w[4]),
            Optional.ofNullable(none(w[3])));
        s.setGroupInstanceId(Optional.ofNullable(none(w[2])));
        return s;
    }

    private static ConsumerPartitionAssignor assignor(String name) {
        switch (name) {
            case "range":
                return new RangeAssignor();
            case "roundrobin":
                return new RoundRobinAssignor();
            case "sticky":
                return new StickyAssignor();
            case "cooperative-sticky":
                return new CooperativeStickyAssignor();
            default:
                throw new IllegalArgumentException("unknown assignor " + name);
        }
    }

    private static Cluster cluster(Case c) {
        Map<Integer, Node> nodes = new HashMap<>(c.nodes);
        List<PartitionInfo> partitions = new ArrayList<>();
        for (String[] w : c.partitions) {
            List<Node> replicas = new ArrayList<>();
            for (String id : list(w[3])) {
                int n = Integer.parseInt(id);
                replicas.add(nodes.computeIfAbsent(n, k -> new Node(k, "localhost", 9092 + k)));
            }
            Node[] r = replicas.toArray(new Node[0]);
            Node leader = r.length == 0 ? null : r[0];
            partitions.add(new PartitionInfo(name(w[1]), Integer.parseInt(w[2]), leader, r, r));
        }
        return new Cluster("gregor-assignor-peer", new ArrayList<>(nodes.values()), partitions,
            Collections.emptySet(), Collections.emptySet());
    }

    private static void run(Case c, PrintStream out) {
        out.println("case " + word(c.label));
        Map<String, Assignment> result;
        try {
            GroupAssignment answer = assignor(c.assignor).assign(cluster(c), new GroupSubscription(c.members));
            result = new TreeMap<>(answer.groupAssignment());
        } catch (Exception e) {
            out.println("error " + oneLine(e));
            out.println("end");
            return;
        }
        for (Map.Entry<String, Assignment> e : result.entrySet()) {
            StringBuilder parts = new StringBuilder();
            for (TopicPartition tp : e.getValue().partitions()) {
                parts.append(parts.length() == 0 ? "" : ",").append(word(tp.topic())).append(':').append(tp.partition());
            }
            out.println("member " + word(e.getKey()) + " " + (parts.length() == 0 ? "-" : parts)
                + " " + hex(e.getValue().userData()));
        }
        out.println("end");
    }

    private static String oneLine(Exception e) {
        return (e.getClass().getName() + ": " + e.getMessage()).replace('\n', ' ').replace('\r', ' ');
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

    private static String hex(ByteBuffer buffer) {
        if (buffer == null) {
            return "-";
        }
        ByteBuffer b = buffer.duplicate();
        StringBuilder s = new StringBuilder(1 + 2 * b.remaining()).append('x');
        while (b.hasRemaining()) {
            byte x = b.get();
            s.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return s.toString();
    }
}
