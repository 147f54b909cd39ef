"""cungdan ingest: validates activity reports and appends them to NATS JetStream."""
