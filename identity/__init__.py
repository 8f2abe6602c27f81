"""Who a citizen is: NIK rules, the canonical model, purposes, and assembling the verified record.

Nothing here imports FastAPI or the database: the same functions serve the API, the CLI and the tests.
"""
