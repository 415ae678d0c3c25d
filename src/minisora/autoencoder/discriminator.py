"""The adversarial term of the autoencoder's training: a patch discriminator over frames.

An L1/MSE-trained decoder that cannot tell where a fast object is inside a 4-frame latent group
draws it at both places, faintly (a ghost), or stretched between them: the mean of what it
might be. The world analyzer then reads two objects or one too tall, and count and permanence
claims fail on renders that merely passed through the autoencoder. A patch discriminator
(pix2pix, VQGAN, SD's VAE) judges every frame together with its change from the frame before:
no world frame holds a ghost or a smear, so drawing one costs the decoder, and a crisp object
at one place wins over a blend of two.

Hinge losses; the decoder's adversarial weight is balanced against the reconstruction loss by
their gradients at the decoder's last layer (VQGAN's adaptive weight), so one `--adv-weight`
works at any stage of training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FrameDiscriminator(nn.Module):
    """(B, 3, T, H, W) video in [-1, 1] -> (B*T, 1, H/4, W/4) realness logits, one per patch of
    about 22 x 22 pixels of each frame, read with its change from the frame before (none for
    the first frame). Group norm on its second and third layers (pix2pix's PatchGAN, with group
    instead of batch statistics so a frame's score does not depend on its batch). Measured on 32 x 32
    crops against the shipped decoder: this net (width 64) separated real from decoded patches
    within 400 steps (hinge loss 1.58); a spectral-norm twin was still at chance (2.0) after
    3,000 steps, and a decoder trained against it only lost PSNR."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        if width < 4 or width % 4:
            raise ValueError(f"discriminator width {width}: give a multiple of 4 (its group norms have 8 groups)")
        self.width = width
        self.convs = nn.ModuleList([
            nn.Conv2d(6, width, 4, stride=2, padding=1),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1),
        ])
        self.norms = nn.ModuleList([nn.Identity(), nn.GroupNorm(8, 2 * width), nn.GroupNorm(8, 4 * width)])
        self.out = nn.Conv2d(4 * width, 1, 3, padding=1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = video.shape
        if c != 3:
            raise ValueError(f"the discriminator reads RGB videos (B, 3, T, H, W); got {tuple(video.shape)}")
        change = video - torch.cat([video[:, :, :1], video[:, :, :-1]], dim=2)
        x = torch.cat([video, change], dim=1).transpose(1, 2).reshape(b * t, 6, h, w)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.leaky_relu(norm(conv(x)), 0.2)
        return self.out(x)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss: real patches above +1, decoded ones below -1."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def adaptive_weight(reconstruction: torch.Tensor, adversarial: torch.Tensor, last_layer: torch.Tensor,
                    limit: float = 1e4) -> torch.Tensor:
    """||d rec / d W|| / ||d adv / d W|| at the decoder's last layer W (VQGAN): the adversarial
    term's pull on the output, scaled to the reconstruction's."""
    g_rec = torch.autograd.grad(reconstruction, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adversarial, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, limit).detach()


def last_decoder_layer(decoder: nn.Module) -> torch.Tensor:
    """The weight of the layer that writes the decoder's pixels."""
    last = decoder.layers[-1]
    return last.refine2.weight if hasattr(last, "refine2") else last.conv.conv.weight
