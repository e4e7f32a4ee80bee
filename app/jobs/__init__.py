"""RQ jobs: ids in, call services, commit, idempotent. Enqueued by name (JSON)."""
