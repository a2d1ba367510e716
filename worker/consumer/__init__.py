"""Kafka in and out: ordered commits, per-key order, backpressure, rebalances, shutdown."""
