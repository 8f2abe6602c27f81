"""Operations: health and readiness, Prometheus metrics, request ids and trace context (docs/operations.md)."""
