#!/usr/bin/env python3
"""A long-running member of a consumer group: librdkafka's consumer (the confluent-kafka package)
subscribed with on_assign / on_revoke / on_lost callbacks, reporting every event as one line on
standard output. The testkit's kafka::group_peer module starts it and reads the lines;
testkit/kafka/GroupMemberPeer.java is the same program for Java's client, and its comment
describes the commands and the lines, which are the same here.

Usage: group_member.py BOOTSTRAP TIMEOUT_SECONDS (--topics T1,T2 | --pattern REGEX)
[--delay-ms N] [K=V ...]. The properties are librdkafka's (group.id,
partition.assignment.strategy, enable.auto.commit ...); bootstrap.servers is set here. A
pattern is subscribed as librdkafka's regex subscription (a leading ^ is added when missing).

The callbacks do not assign: confluent-kafka then assigns (or, under a cooperative protocol,
incrementally assigns and unassigns) the partitions itself after the callback returns.
librdkafka does not tell the group generation: records lines say -1. Exit status: 0 after stop,
1 on a fatal error (after an "error" line), 2 on bad arguments, 3 on timeout, 4 when
confluent-kafka is missing.
"""

import os
import queue
import sys
import threading
import time

try:
    from confluent_kafka import Consumer, KafkaException, TopicPartition
except ImportError as e:  # pragma: no cover - environment problem
    print(f"confluent-kafka is not installed ({e}); pip install confluent-kafka==2.16.1",
          file=sys.stderr)
    sys.exit(4)

_OUT_LOCK = threading.Lock()


def emit(line):
    with _OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def one_line(text):
    return str(text).replace("\n", " ").replace("\r", " ")


def pairs(what, partitions):
    words = [what]
    for topic, partition in sorted((tp.topic, tp.partition) for tp in partitions):
        words += [topic, str(partition)]
    return " ".join(words)


class Member:
    def __init__(self, consumer, auto_commit, delay_ms):
        self.consumer = consumer
        self.auto_commit = auto_commit
        self.delay = delay_ms / 1000.0
        self.owned = set()       # (topic, partition) owned now
        self.processed = {}      # (topic, partition) -> offset after the last processed record
        self.committed = {}      # (topic, partition) -> offset last committed here
        self.commands = queue.Queue()
        self.stopping = False

    # Standard input, on a thread of its own: "kill" exits here, the rest is queued.
    def read_commands(self):
        def reader():
            try:
                for line in sys.stdin:
                    line = line.strip()
                    if line == "kill":
                        os._exit(0)
                    if line == "stop":
                        self.stopping = True
                    if line:
                        self.commands.put(line)
            except Exception:  # noqa: BLE001 - as the end of input
                pass
            self.stopping = True
            self.commands.put("stop")

        threading.Thread(target=reader, daemon=True).start()

    def commit(self, keys, asked=False):
        """Commits the processed offsets of `keys` not committed yet: when asked by a command,
        or else (on revocation and close) when auto-commit is off."""
        if self.auto_commit and not asked:
            return
        offsets = sorted((key, self.processed[key]) for key in keys
                         if key in self.processed and self.processed[key] != self.committed.get(key))
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets],
                                 asynchronous=False)
        except KafkaException as e:
            emit(f"commit-failed {one_line(e)}")
            return
        words = ["committed"]
        for (topic, partition), offset in offsets:
            self.committed[(topic, partition)] = offset
            words += [topic, str(partition), str(offset)]
        emit(" ".join(words))

    def drop(self, partitions):
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.owned.discard(key)
            self.processed.pop(key, None)
            self.committed.pop(key, None)

    def on_assign(self, _consumer, partitions):
        self.owned.update((tp.topic, tp.partition) for tp in partitions)
        emit(pairs("assigned", partitions))

    def on_revoke(self, _consumer, partitions):
        self.commit([(tp.topic, tp.partition) for tp in partitions])
        emit(pairs("revoked", partitions))
        self.drop(partitions)

    def on_lost(self, _consumer, partitions):
        emit(pairs("lost", partitions))
        self.drop(partitions)

    def process(self, key, messages):
        """Processes one poll's records of one partition and reports them."""
        if key not in self.owned:
            return  # fetched before a revocation: not ours to process
        offsets = []
        for msg in messages:
            if self.stopping:
                break
            if self.delay > 0:
                time.sleep(self.delay)
            offsets.append(msg.offset())
        if len(offsets) < len(messages):
            # Stopping: what was not processed is not consumed either.
            topic, partition = key
            self.consumer.seek(TopicPartition(topic, partition, messages[len(offsets)].offset()))
        if not offsets:
            return
        first, last = offsets[0], offsets[-1]
        self.processed[key] = last + 1
        if self.auto_commit:
            # Only what was processed is stored for the next automatic commit.
            topic, partition = key
            self.consumer.store_offsets(offsets=[TopicPartition(topic, partition, last + 1)])
        words = ["records", key[0], str(key[1]), str(first), str(last), str(len(offsets)), "-1",
                 str(int(time.time() * 1000))]
        if last - first + 1 != len(offsets):
            words += [str(o) for o in offsets]
        emit(" ".join(words))

    def loop(self):
        while True:
            while True:
                try:
                    command = self.commands.get_nowait()
                except queue.Empty:
                    break
                if command == "stop":
                    self.close()
                    return
                if command == "commit":
                    self.commit(list(self.owned), asked=True)
                else:
                    print(f"group_member.py: unknown command {command}", file=sys.stderr)
            messages = self.consumer.consume(num_messages=500, timeout=0.1)
            batches = {}
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    print(f"group_member.py: consumer error: {err}", file=sys.stderr)
                    continue
                batches.setdefault((msg.topic(), msg.partition()), []).append(msg)
            for key, batch in batches.items():
                self.process(key, batch)

    def close(self):
        self.commit(list(self.owned))
        self.consumer.close()
        emit("closed")


def main(argv):
    if len(argv) < 4:
        print("usage: group_member.py BOOTSTRAP TIMEOUT_SECONDS (--topics T,.. | --pattern RE) "
              "[--delay-ms N] [K=V ...]", file=sys.stderr)
        return 2
    bootstrap, timeout = argv[0], float(argv[1])
    topics, delay_ms, config = None, 0, {}
    args = iter(argv[2:])
    for arg in args:
        if arg == "--topics":
            topics = next(args).split(",")
        elif arg == "--pattern":
            pattern = next(args)
            topics = [pattern if pattern.startswith("^") else "^" + pattern]
        elif arg == "--delay-ms":
            delay_ms = int(next(args))
        elif "=" in arg and not arg.startswith("="):
            key, value = arg.split("=", 1)
            config[key] = value
        else:
            print(f"not a property: {arg}", file=sys.stderr)
            return 2
    if topics is None:
        print("give one of --topics and --pattern", file=sys.stderr)
        return 2

    def timed_out():
        print(f"group_member.py: timed out after {timeout} s", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)

    watchdog = threading.Timer(timeout, timed_out)
    watchdog.daemon = True
    watchdog.start()

    config["bootstrap.servers"] = bootstrap
    auto_commit = config.get("enable.auto.commit", "true").lower() == "true"
    if auto_commit:
        # Offsets are stored as records are processed (process()), not as they are returned.
        config["enable.auto.offset.store"] = "false"
    member = Member(Consumer(config), auto_commit, delay_ms)
    member.read_commands()
    member.consumer.subscribe(topics, on_assign=member.on_assign, on_revoke=member.on_revoke,
                              on_lost=member.on_lost)
    emit("ready")
    member.loop()
    return 0


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except Exception as e:  # noqa: BLE001 - reported, then the exit status says it
        emit(f"error {type(e).__name__}: {one_line(e)}")
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
