"""The baseline of the end-to-end benchmark: a raw aiokafka consume→produce pass-through.

Does the Kafka half of the worker's work and nothing else: consumes the request topic in a
group with manual commits, and for every record publishes one progress-sized and one
result-sized message (the worker publishes `submitted` and `succeeded`) with the worker's own
producer (`worker.consumer.kafka.make_producer`: idempotent, acks=all, same linger and batch
size), waits for the acks, then commits.
Run as a child process until SIGTERM, so its CPU is measured like the worker's:
``python -m tests.bench.passthrough --bootstrap B --input T --group G --progress P --results R
--progress-size N --result-size N``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiokafka import AIOKafkaConsumer

from worker.consumer.kafka import make_producer
from worker.ops.settings import Settings


async def pass_through(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    consumer = AIOKafkaConsumer(
        args.input, bootstrap_servers=args.bootstrap, group_id=args.group,
        enable_auto_commit=False, auto_offset_reset="earliest",
    )  # fmt: skip
    producer = make_producer(Settings(kafka_bootstrap_servers=args.bootstrap))
    progress, result = b"p" * args.progress_size, b"r" * args.result_size
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = []
            for records in batch.values():
                for record in records:
                    futures.append(await producer.send(args.progress, progress, key=record.key))
                    futures.append(await producer.send(args.results, result, key=record.key))
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--bootstrap", "--input", "--group", "--progress", "--results"):
        parser.add_argument(name, required=True)
    parser.add_argument("--progress-size", type=int, required=True)
    parser.add_argument("--result-size", type=int, required=True)
    asyncio.run(pass_through(parser.parse_args()))


if __name__ == "__main__":
    main()
