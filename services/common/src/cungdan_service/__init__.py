"""Plumbing shared by cungdan's services (HTTP problem details, health, metrics, NATS)."""
