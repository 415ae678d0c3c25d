"""Sound (issue 9): log-mel features, the Griffin-Lim vocoder, the video-to-audio sound model
(a diffusion transformer over mel patches that cross-attends to the video latent on one timeline
in seconds), its training on the world's contact sounds, and the SoundModel generate() calls."""
