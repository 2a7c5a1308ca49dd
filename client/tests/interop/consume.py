#!/usr/bin/env python3
"""Reads a topic with librdkafka (the confluent-kafka package) for gregor's interop tests.

Every partition is assigned with assign() from the beginning (no consumer group is joined),
and every record is printed as one JSON object per line:
{"partition", "offset", "timestamp", "key", "value", "headers": [[key, value], ...]}, with
keys, values and header parts as lowercase hex (null stays null). Reading stops once at least
--expected records were read and every partition reported its end (so records beyond the
expected ones, duplicates for instance, are printed too), or after --timeout seconds.
Exit status: 0 on success, 2 on a consumer error, 3 when confluent-kafka is missing.
"""

import argparse
import json
import sys
import time

try:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
except ImportError as e:  # pragma: no cover - environment problem
    print(f"confluent-kafka is not installed ({e}); pip install confluent-kafka==2.16.1",
          file=sys.stderr)
    sys.exit(3)


def hexed(data):
    return None if data is None else data.hex()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        # Required by the client; assign() never joins the group and nothing is committed.
        "group.id": "gregor-interop-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    })
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING)
                     for p in range(args.partitions)])
    read = 0
    at_end = set()
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            if read >= args.expected and len(at_end) == args.partitions:
                break
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                print(f"consumer error: {msg.error()}", file=sys.stderr)
                return 2
            at_end.discard(msg.partition())
            read += 1
            _, timestamp = msg.timestamp()
            headers = [[key.encode("utf-8").hex(), hexed(value)]
                       for key, value in (msg.headers() or [])]
            print(json.dumps({
                "partition": msg.partition(),
                "offset": msg.offset(),
                "timestamp": timestamp,
                "key": hexed(msg.key()),
                "value": hexed(msg.value()),
                "headers": headers,
            }))
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
