"""Encoding: the encoder models, passages into vectors, and the passage index."""
