"""Helpers shared by the test suites (Kafka topics, producers, consumers)."""
