"""Text conditioning: a frozen text encoder (token embeddings + mask), a per-caption embedding
cache, and prompt refinement (short prompt -> detailed caption in the training captions' style).
"""
