#!/usr/bin/env python3
"""Produces keyed records with librdkafka (the confluent-kafka package) using the
murmur2_random partitioner, for gregor's partitioner interop test.

Reads one hex-encoded key per line on stdin, produces each (value "v") to --topic, and
prints {"key": hex, "partition": n} per delivery report as JSON lines, in delivery order.
Exit status: 0 when every record was delivered, 2 on a delivery failure, 3 when
confluent-kafka is missing.
"""

import argparse
import json
import sys

try:
    from confluent_kafka import Producer
except ImportError as e:  # pragma: no cover - environment problem
    print(f"confluent-kafka is not installed ({e}); pip install confluent-kafka==2.16.1",
          file=sys.stderr)
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    args = parser.parse_args()

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
    })
    failures = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(str(err))
            return
        print(json.dumps({"key": msg.key().hex(), "partition": msg.partition()}))

    for line in sys.stdin:
        key = line.strip()
        if key:
            producer.produce(args.topic, key=bytes.fromhex(key), value=b"v",
                             on_delivery=on_delivery)
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        print(f"undelivered: {remaining}, failures: {failures[:5]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
