"""generate(): every prompting mode (text, image, extend forward/backward, loop, connect, edit)
as conditioning masks over latent frames, long videos chunk by chunk, and model loading."""

from minisora.pipeline.config import GenerateConfig, GenerationError
from minisora.pipeline.generation import Generation, GenerationCancelled, generate
from minisora.pipeline.model import DEFAULT_MODEL, WorldModel, load_world_model

__all__ = [
    "DEFAULT_MODEL",
    "GenerateConfig",
    "Generation",
    "GenerationCancelled",
    "GenerationError",
    "WorldModel",
    "generate",
    "load_world_model",
]
