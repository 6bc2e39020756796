"""Fine-tuning the VAE decoder for IRJS's pasted regions: the pasting, the pixels it may change
(hand-computed) and that the encoder, and so the latent space, is left alone."""

import pytest
import torch

from reatco_models.config import tiny_config
from reatco_models.train import TrainSettings, far_from_box, paste_box, train_decoder
from reatco_models.vae import AutoencoderKL


def test_paste_box_changes_only_one_box_per_frame_by_a_bounded_gain():
    latent, other = torch.randn(6, 4, 16, 16), torch.randn(6, 4, 16, 16)
    pasted, mask = paste_box(latent, other, torch.Generator().manual_seed(1), max_gain=2.0)
    assert torch.equal(pasted * (1 - mask), latent * (1 - mask))
    for i in range(6):
        rows, cols = mask[i, 0].any(1).nonzero().flatten(), mask[i, 0].any(0).nonzero().flatten()
        height, width = len(rows), len(cols)
        assert 4 <= height <= 8 and 4 <= width <= 8
        assert mask[i, 0].sum() == height * width  # one rectangle
        assert rows.diff().eq(1).all() and cols.diff().eq(1).all()
        gain = pasted[i][:, rows[0], cols[0]] / other[i][:, rows[0], cols[0]]
        assert torch.allclose(gain, gain[0].expand(4), rtol=1e-4)
        assert 0.5 - 1e-6 <= gain[0] <= 2.0 + 1e-6


def test_far_from_box_excludes_the_box_and_its_margin():
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, 1, 2] = 1  # pixels x 8..11, y 4..7 at 4 pixels per cell
    far = far_from_box(mask, cell_px=4, margin_px=2)
    expected = torch.ones(1, 1, 16, 16)
    expected[0, 0, 2:10, 6:14] = 0
    assert torch.equal(far, expected)


def test_train_decoder_leaves_the_encoder_as_it_is():
    torch.manual_seed(0)
    vae = AutoencoderKL(tiny_config(100).vae)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    lines = []
    train_decoder(vae, TrainSettings(size=32, vae_batch=8, decoder_minutes=0.02, workers=0), torch.device("cpu"), lines.append)
    for name, value in vae.state_dict().items():
        trained = name.startswith(("decoder.", "post_quant_conv."))
        assert torch.equal(value, before[name]) != trained, name
    assert lines[0].startswith("decoder before") and lines[-1].startswith("decoder after")
    assert not any(p.requires_grad for p in vae.parameters())


def test_settings_overrides_are_parsed_as_their_fields_types():
    settings = TrainSettings().with_overrides(["unet_lr=1.5e-4", "edit_fraction=0.5", "workers=3"])
    assert settings.unet_lr == 1.5e-4 and settings.edit_fraction == 0.5 and settings.workers == 3
    assert TrainSettings().with_overrides([]) == TrainSettings()
    with pytest.raises(ValueError, match="unknown training setting 'unet_rl'"):
        TrainSettings().with_overrides(["unet_rl=1"])
