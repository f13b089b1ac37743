"""Development tools beside the production package: the local Kafka (``localkafka``), the national
feed simulator (``simulate``) and the whole hub on one machine (``run``).

Nothing under ``services/`` imports this package (tests/unit/packaging), and the image is built
without it (.dockerignore), so production holds only what runs in production.
"""
