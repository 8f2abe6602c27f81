"""The submission path (journey 2): applications, their outbox and inbox, the embedded dispatcher, the RabbitMQ
relay and consumers, and the attempt logic shared by both. Guide: docs/submissions.md."""
