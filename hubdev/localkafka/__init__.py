"""A real single-node Kafka (KRaft) for local development and integration tests; see docs/kafka.md."""
