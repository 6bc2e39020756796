"""The demo case: chosen by a property of the case, not by how an edit of it turns out."""

from reatco_models.shapes import _box, demo_case


def test_the_demo_replaces_one_of_two_objects_in_a_region_clear_of_the_other():
    case = demo_case(8, 128)
    target, *others = case["scene"].objects
    assert case["kind"] == "replace" and case["moving"] and len(others) >= 1
    for f in range(8):
        x1, y1, x2, y2 = _box(target, f, 128)
        for other in others:
            ox1, oy1, ox2, oy2 = other.box(f, 128)
            assert x2 <= ox1 or ox2 <= x1 or y2 <= oy1 or oy2 <= y1
