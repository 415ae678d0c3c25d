"""Reconstruction losses that need no downloaded network, and the quality metrics.

L1 on pixels, 1 - SSIM (Wang et al. 2004, 11x11 Gaussian window, per frame) and L1 between
image gradients stand in for a perceptual loss; the KL term follows LDM's convention (summed
over latent elements, divided by the number of pixel values, weight ~1e-6).
"""

from __future__ import annotations

import torch


def _frames(video: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, H, W)."""
    b, c, t, h, w = video.shape
    return video.transpose(1, 2).reshape(b * t, c, h, w)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _blur_matrix(n: int, device: torch.device) -> torch.Tensor:
    """(n, n) matrix M with M @ v = the 11-tap Gaussian blur of v, reflect-padded.

    Folding the padding into a matrix turns the separable blur into two small matmuls: the
    grouped 11-tap convolutions it replaces took half of a VAE training step on this CPU.
    """
    g = _gaussian_window()
    pad = g.numel() // 2
    if n <= pad:
        raise ValueError(f"SSIM needs frames of at least {pad + 1} px per side, got {n}")
    source = torch.arange(-pad, n + pad)
    source = torch.where(source < 0, -source, source)
    source = torch.where(source > n - 1, 2 * (n - 1) - source, source)  # reflect, as F.pad does
    m = torch.zeros(n, n)
    for i in range(n):
        m[i].index_add_(0, source[i:i + g.numel()], g)
    return m.to(device)


def ssim_per_frame(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM of each frame of two (B, 3, T, H, W) videos in [-1, 1]: (B, T).

    Pixels are mapped to [0, 1] first; statistics use a separable Gaussian window with
    reflect padding, so frames of any size >= 6 px work.
    """
    x, y = _frames((a.float() + 1) / 2), _frames((b.float() + 1) / 2)
    rows, cols = _blur_matrix(x.shape[-2], x.device), _blur_matrix(x.shape[-1], x.device)

    def blur(z: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        return rows @ z @ cols.T

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return ssim.mean(dim=(1, 2, 3)).view(a.shape[0], a.shape[2])


def psnr_per_clip(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of (B, 3, T, H, W) videos in [-1, 1], peak = full range: (B,)."""
    mse = ((a.float() - b.float()) / 2).pow(2).mean(dim=(1, 2, 3, 4))
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance between the spatial finite differences of two videos."""
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor, pixel_values: int) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) summed over latent elements, per pixel value (LDM's convention)."""
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.sum() / pixel_values


def vae_loss(recon: torch.Tensor, target: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
             ssim_weight: float, grad_weight: float, kl_weight: float, mse_weight: float = 0.0
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss and its parts (as floats, for the log)."""
    recon = recon.float()
    l1 = (recon - target).abs().mean()
    ssim = ssim_per_frame(recon, target).mean()
    grad = gradient_l1(recon, target)
    kl = kl_divergence(mean, logvar, target.numel())
    mse = (recon - target).pow(2).mean()
    loss = l1 + mse_weight * mse + ssim_weight * (1 - ssim) + grad_weight * grad + kl_weight * kl
    with torch.no_grad():
        psnr = psnr_per_clip(recon, target).mean()
    parts = {"loss": loss.item(), "l1": l1.item(), "ssim": ssim.item(), "grad": grad.item(),
             "kl": kl.item(), "mse": mse.item(), "psnr": psnr.item()}
    return loss, parts
