"""Training on edits and RAD's loss as a training term: against the oracle's RAD functions (rad.py)
and hand-computed regions."""

import dataclasses

import torch

from reatco_models.config import tiny_config
from reatco_models.rad import rad_gradient, rad_loss, rad_statistics, rank_weights
from reatco_models.train import rad_grounding_loss, rad_step, region_cells
from reatco_models.unet3d import UNet3D
from reatco_models.world import COLORS, Scene, WorldObject, edit_source, random_scene


def test_rad_grounding_loss_is_rads_loss_for_each_selected_word():
    torch.manual_seed(0)
    frames, grid, tokens = 3, 4, 8
    maps = torch.softmax(3 * torch.randn(2, frames, grid * grid, tokens), dim=-1)
    boxes = torch.zeros(2, 2, frames, grid, grid)
    boxes[0, 0, :, 1:3, 0:2] = 1
    boxes[0, 1, :, 0:2, 2:4] = 1
    boxes[1, 0, 0, 2:4, 1:4] = 1  # a moving region
    boxes[1, 0, 1:, 1:3, 1:4] = 1
    selection = torch.zeros(2, 2, tokens)
    selection[0, 0, [2, 3]] = 1
    selection[0, 1, 5] = 1
    selection[1, 0, 4] = 1  # clip 1's second object is absent: nothing selected
    expected = []
    for i, k, token in ((0, 0, 2), (0, 0, 3), (0, 1, 5), (1, 0, 4)):
        masks = boxes[i, k : k + 1]
        fg, bg = rad_statistics(maps[i].reshape(frames, grid, grid, tokens), masks, torch.tensor([token]), *rank_weights(masks.flatten(2)))
        expected.append(rad_loss(fg, bg, torch.ones(1), torch.ones(1), torch.zeros(1)))
    loss = rad_grounding_loss(maps, boxes.flatten(3), selection)
    assert torch.allclose(loss, torch.stack(expected).mean(), atol=1e-6)
    assert rad_grounding_loss(maps, boxes.flatten(3), torch.zeros_like(selection)).item() == 0.0


def test_region_cells_round_the_grown_box_half_to_even():
    obj = WorldObject("circle", "red", 10.0, (40.0, 24.0), (8.0, 0.0))
    cells = region_cells(obj, 2, 64, 8, 1.2)
    # frame 0: box (28, 12, 52, 36) / 8 = (3.5, 1.5, 6.5, 4.5) -> (4, 2, 6, 4): columns 4-5, rows 2-3
    assert cells[0].nonzero().tolist() == [[y, x] for y in (2, 3) for x in (4, 5)]
    # frame 1: x (36, 60) / 8 = (4.5, 7.5) -> (4, 8): columns 4-7
    assert cells[1].nonzero().tolist() == [[y, x] for y in (2, 3) for x in (4, 5, 6, 7)]


def test_an_edit_source_lacks_the_added_object_or_has_another_one_on_its_path():
    kinds = set()
    for seed in range(40):
        generator = torch.Generator().manual_seed(seed)
        scene = random_scene(generator, 128)
        source, k = edit_source(scene, generator)
        edited = scene.objects[k]
        if len(source.objects) < len(scene.objects):
            kinds.add("add")
            assert k == len(scene.objects) - 1 and source.objects == scene.objects[:-1]
        else:
            kinds.add("replace")
            before = source.objects[k]
            assert dataclasses.replace(before, color=edited.color, shape=edited.shape) == edited
            assert before.shape not in {o.shape for o in scene.objects}
            assert before.color not in {o.color for o in scene.objects} | {scene.background}
            assert before.color in COLORS
            assert source.objects[:k] + source.objects[k + 1 :] == scene.objects[:k] + scene.objects[k + 1 :]
        assert (source.texture, source.background, source.angle) == (scene.texture, scene.background, scene.angle)
    assert kinds == {"add", "replace"}


def test_rad_step_moves_each_clip_as_the_oracles_gradient_does():
    torch.manual_seed(1)
    cfg = tiny_config(50)
    unet = UNet3D(cfg.unet).eval()
    frames, size = 2, 16
    grid = size // 2**cfg.unet.rad_level
    latent = torch.randn(2, 4, frames, size, size)
    context = torch.randn(2, 77, cfg.unet.cross_attention_dim)
    timestep = torch.tensor([901.0, 601.0])
    region = torch.zeros(2, frames, grid, grid)
    region[0, :, : grid // 2] = 1
    region[1, :, :, grid // 2 :] = 1
    token = torch.tensor([3, 5])
    alpha = torch.tensor([20.0, 10.0])
    moved, fg = rad_step(unet, latent, timestep, context, region, token, alpha)
    for i in range(2):
        masks = region[i : i + 1]
        grad, _, fg_i, _ = rad_gradient(unet, latent[i : i + 1], timestep[i], context[i : i + 1], masks, token[i : i + 1], *rank_weights(masks.flatten(2)), torch.ones(1), torch.ones(1), torch.zeros(1))
        assert torch.allclose(moved[i : i + 1], latent[i : i + 1] - alpha[i] * grad, atol=1e-5)
        assert torch.allclose(fg[i], fg_i[0], atol=1e-6)
