"""Callbacks to agencies (outbound batches of application events) and agency pushes (inbound)."""
