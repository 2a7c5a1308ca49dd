"""Produces one record with librdkafka (confluent-kafka) over SASL and prints the outcome.

Usage: sasl_produce.py BOOTSTRAP MECHANISM USER PASSWORD TOPIC
Prints one JSON line: {"partition": p, "offset": o} on delivery, or {"error": name} when
the delivery or the authentication fails (within 15 s).
"""
import json
import sys

from confluent_kafka import Producer

bootstrap, mechanism, user, password, topic = sys.argv[1:6]
errors = []
producer = Producer({
    "bootstrap.servers": bootstrap,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": mechanism,
    "sasl.username": user,
    "sasl.password": password,
    "message.timeout.ms": 15000,
    "error_cb": lambda e: errors.append(e),
})
outcome = {}


def delivered(err, msg):
    if err is not None:
        outcome["error"] = err.name()
    else:
        outcome["partition"] = msg.partition()
        outcome["offset"] = msg.offset()


producer.produce(topic, key=b"k", value=b"over " + mechanism.encode(), partition=0,
                 on_delivery=delivered)
while not outcome:
    producer.poll(0.1)
    auth = [e for e in errors if e.name() == "_AUTHENTICATION"]
    if auth:
        outcome["error"] = auth[0].name()
print(json.dumps(outcome))
