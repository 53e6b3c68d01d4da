"""A Definition behaves as the frozen keyword-only dataclass it replaced (decision 20): defaults, equality,
copies, replace and fields, with no dataclass created."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping

import pytest

from jobctl.model.definition import Definition, asdict, field, fields, replace
from jobctl.model.job import JobDefinition


class Box(Definition):
    name: str = field()
    size: int = field(default=1)
    tags: Mapping[str, str] = field(default_factory=dict)
    seen: tuple[str, ...] = field(default=(), compare=False)


class BigBox(Box):
    depth: int = 0


def test_a_definition_takes_keywords_with_defaults_and_fills_each_factory_anew() -> None:
    one, two = Box(name="a"), Box(name="b", size=3)

    assert (one.name, one.size, one.tags, two.size) == ("a", 1, {}, 3)
    assert one.tags is not two.tags
    assert repr(one) == "Box(name='a', size=1, tags={}, seen=())"


def test_a_missing_or_unknown_keyword_is_a_type_error_as_for_a_dataclass() -> None:
    with pytest.raises(TypeError, match="missing required keyword argument: 'name'"):
        Box()
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Box(name="a", colour="red")  # type: ignore[call-arg]


def test_a_definition_is_frozen_and_slotted() -> None:
    box = Box(name="a")

    with pytest.raises(AttributeError, match="frozen"):
        box.size = 2  # type: ignore[misc]
    assert not hasattr(box, "__dict__")
    assert "__dataclass_fields__" not in vars(Box)


def test_equality_leaves_out_what_is_not_compared_and_a_subclass_is_never_equal() -> None:
    assert Box(name="a", seen=("x",)) == Box(name="a")
    assert Box(name="a") != Box(name="a", size=2)
    assert BigBox(name="a") != Box(name="a")


def test_fields_replace_and_asdict_follow_the_declaration_order_base_first() -> None:
    big = BigBox(name="a", depth=2)

    assert [f.name for f in fields(BigBox)] == ["name", "size", "tags", "seen", "depth"]
    assert replace(big, size=5) == BigBox(name="a", size=5, depth=2)
    assert asdict(big) == {"name": "a", "size": 1, "tags": {}, "seen": (), "depth": 2}


def test_copies_and_replace_run_post_init_again_and_keep_the_job_as_it_was() -> None:
    job = JobDefinition(name="a", shape="S", runtime_type="python", subnet_id="ocid1.subnet.oc1..x")

    assert job.infrastructure_type == "STANDALONE"  # filled by __post_init__
    assert copy.deepcopy(job) == job == pickle.loads(pickle.dumps(job))
    assert replace(job, subnet_id=None, infrastructure_type=None).infrastructure_type == "ME_STANDALONE"
