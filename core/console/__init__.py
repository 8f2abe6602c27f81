"""The operator console: a small server-rendered page at `/console` (scope `admin`) to see and steer the bus.

It shows what operators ask first — agencies (health, breaker), queues and dead letters (with a replay button),
recent applications and callback deliveries, the latest signed checkpoint — from the same service functions as
the admin API, so a replay from the console is the same, equally audited, operation. No NIK, no names: only ids,
agencies, services, statuses and times. Guide: docs/operations.md ("Operator console").
"""
