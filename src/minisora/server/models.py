"""The world model the service generates with: chosen when the service starts, loaded by each
worker on its first job and kept for the worker's life (never once per job).

Each worker thread loads its own copy rather than sharing one: the text encoder's tokenizer
(Hugging Face's Rust tokenizer) must not be called from two threads at once, and a world-s
model is small (tens of MB), so a copy per worker costs little.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from minisora.server.config import ServeConfig

if TYPE_CHECKING:
    from minisora.pipeline import WorldModel
    from minisora.pipeline.sound import SoundModel

log = logging.getLogger("minisora.server")


def shipped_model_folder() -> Path:
    """Where the shipped default world model goes (minisora.pipeline.DEFAULT_MODEL), found without
    importing the pipeline: it imports torch, which a server without a model never needs."""
    spec = importlib.util.find_spec("minisora.pipeline")
    return Path(spec.origin).parent / "weights" / "default"


def choose_model(config: ServeConfig) -> Path | None:
    """The model folder the workers load (--model, else the shipped default), or None for none.

    A folder named with --model is checked now (GenerationError saying what is wrong), so a
    wrong path stops the server at start-up instead of failing every job."""
    if config.no_model:
        return None
    if config.model is not None:
        from minisora.pipeline.model import find_weights

        find_weights(Path(config.model))
        return Path(config.model).resolve()
    shipped = shipped_model_folder()
    return shipped if (shipped / "config.json").is_file() else None


class WorkerModel:
    """One worker's world model and sound model, loaded on first use and then kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: tuple[WorldModel, SoundModel | None] | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def get(self) -> tuple[WorldModel, SoundModel | None]:
        """(world model, sound model or None for silent videos); GenerationError if unloadable."""
        if self._loaded is None:
            from minisora.pipeline import load_world_model
            from minisora.pipeline.generation import sound_for

            world = load_world_model(self.folder)
            # loaded here too, once: generate(sound="default") would load it again on every job
            sound = sound_for("default", world, lambda note: log.info("%s", note))
            self._loaded = (world, sound)
            log.info("world model loaded from %s", world.folder)
        return self._loaded
