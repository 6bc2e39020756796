"""Architecture configurations: Stable Diffusion 1.x sizes and the tiny test sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 4
    out_channels: int = 4
    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    layers_per_block: int = 2
    # SD-1.x calls this `attention_head_dim` but uses it as the number of heads (8).
    attention_heads: int = 8
    cross_attention_dim: int = 768
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    # Tune-A-Video's temporal attention after every transformer block; absent in plain SD weights.
    temporal_attention: bool = False
    # Index of the down block whose resolution RAD reads (latent / 2**rad_level; 1/32 of the frame for SD).
    rad_level: int = 2

    @property
    def num_blocks(self) -> int:
        return len(self.block_out_channels)

    @property
    def rad_up_block(self) -> int:
        """The up block at the RAD resolution (its cross-attention maps are the last ones RAD needs)."""
        return self.num_blocks - 1 - self.rad_level

    @property
    def downsample_factor(self) -> int:
        return 2 ** (self.num_blocks - 1)

    def has_cross_attention(self, down_index: int) -> bool:
        """SD-1.x: every down block but the last has cross-attention (and every up block but the first)."""
        return down_index < self.num_blocks - 1


@dataclass(frozen=True)
class VAEConfig:
    in_channels: int = 3
    latent_channels: int = 4
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    norm_num_groups: int = 32
    scaling_factor: float = 0.18215

    @property
    def scale_factor(self) -> int:
        """Pixels per latent cell."""
        return 2 ** (len(self.block_out_channels) - 1)


@dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 49408
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_layers: int = 12
    num_heads: int = 12
    max_length: int = 77
    layer_norm_eps: float = 1e-5
    hidden_act: str = "quick_gelu"


@dataclass(frozen=True)
class SchedulerConfig:
    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    set_alpha_to_one: bool = False
    steps_offset: int = 1


@dataclass(frozen=True)
class ModelConfig:
    unet: UNetConfig = field(default_factory=UNetConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    text: TextConfig = field(default_factory=TextConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    @property
    def attention_cell_px(self) -> int:
        """Frame pixels per RAD attention cell (32 for SD-1.x)."""
        return self.vae.scale_factor * 2**self.unet.rad_level

    @property
    def frame_multiple(self) -> int:
        """Frame sides must be multiples of this so every UNet level has an integer size."""
        return self.vae.scale_factor * self.unet.downsample_factor

    def to_dict(self) -> dict:
        return asdict(self)


SD15 = ModelConfig()


def shapes_config(vocab_size: int) -> ModelConfig:
    """The embedded model trained on the synthetic shapes world (models/shapes-v4): 128-pixel frames,
    a 4x VAE and the RAD grid at 1/16 of the frame (8x8 cells), Tune-A-Video's temporal attention."""
    return ModelConfig(
        unet=UNetConfig(
            block_out_channels=(32, 48, 48, 48),
            layers_per_block=1,
            attention_heads=4,
            cross_attention_dim=64,
            norm_num_groups=8,
            temporal_attention=True,
        ),
        vae=VAEConfig(block_out_channels=(32, 48, 48), layers_per_block=1, norm_num_groups=8),
        text=TextConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4),
    )


def tiny_config(vocab_size: int, temporal_attention: bool = True) -> ModelConfig:
    """Small enough for CPU tests in seconds; 128-pixel frames still give an 8x8 RAD attention grid
    because the VAE downsamples 4x (not 8x), so one attention cell is 16 pixels."""
    return ModelConfig(
        unet=UNetConfig(
            block_out_channels=(16, 32, 32, 32),
            layers_per_block=1,
            attention_heads=2,
            cross_attention_dim=32,
            norm_num_groups=8,
            temporal_attention=temporal_attention,
        ),
        vae=VAEConfig(block_out_channels=(16, 32, 32), layers_per_block=1, norm_num_groups=8),
        text=TextConfig(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2
        ),
    )
