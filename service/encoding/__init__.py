"""Encoding: the encoder models, passages into vectors, and the passage index.

models (encoders by name, the tuned and int8 releases), inputs (what the encoder reads for a passage),
embed (vectors and their cache), index (the faiss passage index).
"""
