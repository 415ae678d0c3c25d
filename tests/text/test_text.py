"""The text encoder loads offline and gives token embeddings; the cache and refinement."""

from __future__ import annotations

import os
import socket

import pytest
import torch

from minisora.text.cache import EmbeddingCache, pad_tokens
from minisora.text.encoder import TextEncoder, TextEncoderConfig


def no_network(*args, **kwargs):
    raise AssertionError("the text encoder tried to open a network connection")


@pytest.fixture(scope="module")
def encoder():
    """MiniLM loaded once, with every socket connection failing: it must load offline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", no_network)
        yield TextEncoder()


def test_encoder_loads_offline_without_network(encoder, monkeypatch):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    monkeypatch.setattr(socket.socket, "connect", no_network)
    enc = encoder
    tokens, mask = enc.encode(["three red balls bounce to the right", ""])
    assert enc.dim == 384
    assert tokens.shape == (2, mask.shape[1], 384) and tokens.dtype == torch.float32
    assert mask.dtype == torch.bool and mask[1].sum() == 2  # [CLS] [SEP] for the empty caption
    assert mask[0].all()


def test_encoding_is_deterministic_and_batch_independent(encoder):
    a, ma = encoder.encode(["a blue square slides left", "two green triangles fall"])
    b, mb = encoder.encode(["two green triangles fall"])
    n = int(mb[0].sum())
    torch.testing.assert_close(a[1, :n], b[0, :n], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(a[0, :3], a[1, :3])


def test_the_last_captions_are_encoded_once(encoder):
    """generate() and its soundtrack encode the same caption one after the other: the second
    call reuses the first's embeddings (copies: changing one changes nothing later); the
    encoder keeps only the last RECENT batches."""
    from minisora.text.encoder import RECENT

    calls = []
    hook = encoder.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        a, ma = encoder.encode(["a cyan ball falls on the floor"])
        a[0, 0, 0] = 1e6
        b, mb = encoder.encode(["a cyan ball falls on the floor"])
        assert len(calls) == 1 and b[0, 0, 0] != 1e6 and torch.equal(ma, mb)
        for i in range(RECENT):
            encoder.encode([f"{i + 2} red squares slide"])
        again, _ = encoder.encode(["a cyan ball falls on the floor"])
        assert len(calls) == RECENT + 2  # pushed out by the others, so encoded anew
        torch.testing.assert_close(again, b)
    finally:
        hook.remove()


def test_encoder_folder_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        TextEncoder(TextEncoderConfig(path=str(tmp_path)))
    with pytest.raises(TypeError, match="list of caption"):
        TextEncoder.encode(None, "one string")  # type: ignore[arg-type]


def test_cache_roundtrip_matches_encoder(encoder, tmp_path):
    cache = EmbeddingCache(encoder)
    captions = ["a red ball", "a big yellow wooden box rolls to the left", "a red ball"]
    tokens, mask = cache.get(captions)
    assert len(cache) == 2
    direct, direct_mask = encoder.encode(captions)
    assert torch.equal(mask, direct_mask)
    torch.testing.assert_close(tokens[mask], direct[direct_mask], atol=1e-2, rtol=1e-2)  # float16 storage
    cache.save(tmp_path / "text.safetensors")
    again = EmbeddingCache.load(tmp_path / "text.safetensors")
    t2, m2 = again.get(captions)
    assert torch.equal(t2, tokens) and torch.equal(m2, mask)
    with pytest.raises(KeyError, match="pass a TextEncoder"):
        again.get(["never seen"])


def test_pad_tokens():
    tokens, mask = pad_tokens([torch.ones(2, 3), torch.ones(4, 3)])
    assert tokens.shape == (2, 4, 3) and mask.sum(1).tolist() == [2, 4]
    assert tokens[0, 2:].abs().sum() == 0


def test_refine_prompt_expands_in_caption_style():
    pytest.importorskip("minisora.world.captions")
    from minisora.text.refine import refine_prompt

    refined = refine_prompt("three red balls bounce to the right", seed=3)
    assert len(refined.caption.split()) > len(refined.prompt.split())
    assert "red" in refined.caption and refined.caption in str(refined)
    assert refine_prompt("three red balls bounce to the right", seed=3).caption == refined.caption


def test_caption_count_reads_every_object_a_caption_names():
    from minisora.text.refine import caption_count, refine_prompt

    assert caption_count("two red balls bounce") == 2
    assert caption_count("On a grey background: Three medium cyan wood squares bounce. Another medium cyan "
                         "wood square bounces. A small red ball rolls to the left.") == 5
    assert caption_count("red balls bounce") == 0  # a plural without a number: unknown
    assert caption_count("") == 0 and caption_count("a flurble glorps") == 0  # nothing / unknown words
    for prompt, seed in [("four balls", 0), ("a ball and two squares", 3), ("three triangles fall", 1)]:
        refined = refine_prompt(prompt, seed=seed)  # the refined caption names every object of its scene
        assert caption_count(refined.caption) == len(refined.spec.objects)


def test_refine_command_shows_the_refined_prompt():
    import subprocess
    import sys

    pytest.importorskip("minisora.world.captions")
    out = subprocess.run([sys.executable, "-m", "minisora.cli", "refine", "two blue boxes slide left",
                          "--seed", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    prompt_line, refined_line = out.stdout.strip().splitlines()
    assert prompt_line == "prompt: two blue boxes slide left"
    assert refined_line.startswith("refined: ") and "blue" in refined_line


def test_refine_command_shows_a_long_videos_storyboard():
    import subprocess
    import sys

    pytest.importorskip("minisora.world.captions")
    args = [sys.executable, "-m", "minisora.cli", "refine", "a wood ball falls", "--seconds", "12", "--seed", "1"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[1].startswith("refined: ") and "lands on the floor" in lines[1]
    assert lines[-1].startswith("from ") and "rests on the floor" in lines[-1]
    flat = subprocess.run([*args, "--no-storyboard"], capture_output=True, text=True, timeout=60)
    assert flat.stdout.strip().splitlines() == lines[:2]


@pytest.mark.parametrize("kind", ["bert", "t5"])
def test_any_hugging_face_encoder_folder_can_replace_minilm(kind, tmp_path):
    """A tiny random BERT or T5 (encoder half used) saved as a folder loads through the config."""
    import shutil

    from transformers import BertConfig, BertModel, T5Config, T5Model

    from minisora.text.encoder import packaged_minilm_path

    torch.manual_seed(0)
    if kind == "bert":
        model = BertModel(BertConfig(hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32))
    else:
        model = T5Model(T5Config(vocab_size=30522, d_model=24, d_kv=8, d_ff=32, num_layers=1,
                                 num_heads=2, decoder_start_token_id=0))
    model.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(packaged_minilm_path() / name, tmp_path / name)  # MiniLM's tokenizer, any vocab fits
    enc = TextEncoder(TextEncoderConfig(path=str(tmp_path)))
    tokens, mask = enc.encode(["a red ball", "two green boxes fall"])
    assert enc.dim == 24 and tokens.shape == (2, mask.shape[1], 24)
    assert torch.isfinite(tokens).all()
