"""Training the world model: latent shards, buckets, conditioning masks, the loop, checkpoints."""
