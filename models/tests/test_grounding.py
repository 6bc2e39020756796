"""The grounding term of training (TokenCompose's token loss) and the per-object coverage it reads,
against hand-computed values."""

from pathlib import Path

import torch

from reatco_models.tokenizer import ClipTokenizer
from reatco_models.train import grounding_loss, word_selection
from reatco_models.world import Scene, WorldObject, render_layers

TOKENIZER = Path(__file__).resolve().parents[1] / "shapes-v4" / "tokenizer"


def _maps(cells_weights: list[list[float]], tokens: int = 4) -> torch.Tensor:
    """(1, frames, cells, tokens) with token 1's attention given per frame, the rest uniform."""
    maps = torch.full((1, len(cells_weights), len(cells_weights[0]), tokens), 1.0)
    maps[0, :, :, 1] = torch.tensor(cells_weights)
    return maps


def test_attention_on_the_object_costs_nothing_and_spread_attention_costs_the_squared_miss():
    coverage = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]])  # one object on cells 0 and 1, one frame
    selection = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    assert grounding_loss(_maps([[3.0, 1.0, 0.0, 0.0]]), coverage, selection).item() == 0.0
    # uniform attention: half of it on the object -> (1 - 1/2)^2
    assert abs(grounding_loss(_maps([[1.0, 1.0, 1.0, 1.0]]), coverage, selection).item() - 0.25) < 1e-7


def test_half_covered_cells_count_fully_and_frames_are_averaged():
    coverage = torch.tensor([[[[0.5, 0.25, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])  # frame 1: the object is gone
    selection = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    maps = _maps([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    # frame 0: 1/4 (cell 0, fully) + 1/4 * 0.5 (cell 1) = 0.375 on the object; frame 1: 0 -> mean 0.1875
    assert abs(grounding_loss(maps, coverage, selection).item() - (1 - 0.1875) ** 2) < 1e-6


def test_no_selected_word_no_loss():
    maps = _maps([[1.0, 0.0, 0.0, 0.0]])
    assert grounding_loss(maps, torch.ones(1, 1, 1, 4), torch.zeros(1, 1, 4)).item() == 0.0


def test_coverage_is_what_each_object_shows_after_later_objects_hide_it():
    under = WorldObject("square", "red", 10.0, (20.0, 20.0), (0.0, 0.0))
    over = WorldObject("square", "blue", 10.0, (30.0, 20.0), (0.0, 0.0))
    scene = Scene("gradient", "white", 0.0, 16.0, (under, over))
    img, coverage = render_layers(scene, 1, 48)
    assert coverage.shape == (2, 1, 48, 48)
    # squares of half side 8.2 px: the blue one covers x in [21.8, 38.2], so the red one shows x < 21.8
    assert coverage[0, 0, 20, 15].item() == 1.0 and coverage[0, 0, 20, 25].item() == 0.0
    assert coverage[1, 0, 20, 25].item() == 1.0
    assert torch.allclose(img[0, :, 20, 25], torch.tensor([45.0, 85.0, 215.0]))
    # where both are visible at all, coverages never add up to more than one pixel
    assert coverage.sum(0).max().item() <= 1.0 + 1e-6


def test_word_selection_marks_each_objects_colour_and_shape_tokens():
    tokenizer = ClipTokenizer.from_dir(TOKENIZER)
    scene = Scene("striped", "green", 0.0, 16.0, (
        WorldObject("circle", "red", 10.0, (20.0, 20.0), (0.0, 0.0)),
        WorldObject("square", "red", 10.0, (40.0, 20.0), (0.0, 0.0)),
    ))
    assert scene.caption == "a red circle and a red square on a green striped background"
    selection = word_selection(tokenizer, scene)
    # start token, a, red, circle, and, a, red, square: one token per word in this vocabulary
    assert selection[0].nonzero().flatten().tolist() == [2, 3]
    assert selection[1].nonzero().flatten().tolist() == [6, 7]
    assert selection[2].sum().item() == 0
