"""course_utils.wire: what may cross between a student's kernel and the grader, and how."""

import json

import numpy as np
import pytest

from course_utils import standins, wire


def _round_trip(value):
    return wire.decode(wire.loads(wire.dumps(wire.encode(value))))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -7,
        2.5,
        float("inf"),
        complex(1, -2),
        "text",
        [1, "a", None],
        (1, 2.0),
        {"W1": [1.0], "b1": {"x": (None,)}},
    ],
)
def test_plain_values_come_back_equal_and_of_the_same_type(value):
    back = _round_trip(value)
    assert back == value and type(back) is type(value)


def test_nan_crosses_as_nan():
    assert np.isnan(_round_trip(float("nan")))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool", "complex128", "uint8"])
def test_arrays_keep_dtype_shape_and_values(dtype):
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    back = _round_trip(array)
    assert back.dtype == array.dtype and back.shape == (3, 4)
    assert np.array_equal(back, array) and back.flags.writeable


def test_numpy_scalars_keep_their_type_and_float64_reads_as_a_python_float():
    assert type(_round_trip(np.float32(1.5))) is np.float32
    assert type(_round_trip(np.int64(3))) is np.int64
    back = _round_trip(np.float64(0.25))
    assert type(back) is float and back == 0.25


class LyingFloat(float):
    """A student's float that claims to equal everything."""

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__

    def __lt__(self, other):
        return True


def test_a_subclass_with_a_lying_eq_arrives_as_its_plain_value_only():
    back = _round_trip(LyingFloat(0.0))
    assert type(back) is float and back == 0.0 and back != 5.0


def test_honest_subclasses_of_plain_types_arrive_as_the_plain_values():
    from collections import OrderedDict, defaultdict, namedtuple

    pair = namedtuple("Pair", "a b")
    assert _round_trip(OrderedDict(W1=1.0)) == {"W1": 1.0}
    assert type(_round_trip(defaultdict(float, b1=2.0))) is dict
    assert _round_trip(pair(1, 2)) == (1, 2)
    keys = np.array(["W1", "b1"])
    back = _round_trip({key: 1.0 for key in keys})  # keys of type numpy.str_
    assert back == {"W1": 1.0, "b1": 1.0} and all(type(k) is str for k in back)


def test_opaque_values_equal_nothing():
    back = _round_trip(object())
    assert back != 0.0 and not (back == back)
    with pytest.raises(TypeError):
        bool(back)
    assert "object" in repr(back)


@pytest.mark.parametrize(
    "value",
    [object(), np.array([object()]), {1: 2}, iter([1])],
)
def test_anything_else_arrives_opaque(value):
    assert isinstance(_round_trip(value), wire.Opaque)


@pytest.mark.parametrize(
    "data",
    [
        {"$ndarray": "<f8", "shape": [2], "data": "AAAA"},  # too few bytes for the shape
        {"$ndarray": "|O", "shape": [1], "data": ""},  # object dtype
        {"$ndarray": "<f8", "shape": [-1], "data": ""},
        {"$float": "1e999"},
        {"$dict": [[1, 2]]},
        {"$unknown": 1},
        {"a": 1, "b": 2, "c": 3, "d": 4},
        {"$scalar": "<f8", "data": "!!"},
    ],
)
def test_malformed_data_is_refused_with_a_wire_error(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_pickle_is_never_read():
    # A pickle of a class would run code when loaded; the format has no way to carry one.
    payload = {"$pickle": "gASVAAAAAAAAAAA="}
    with pytest.raises(wire.WireError):
        wire.decode(payload)


def test_deep_nesting_is_refused_and_large_messages_are_refused():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError):
        wire.decode(json.loads(json.dumps(deep)))
    with pytest.raises(wire.WireError):
        wire.loads(" " * (wire.MAX_MESSAGE_BYTES + 1))


def test_functions_cross_only_by_reference():
    from course_utils import forward_propagation_n

    qualified = wire.qualified_name(forward_propagation_n)
    assert qualified == "course_utils.network:forward_propagation_n"
    assert wire.resolve_qualified(qualified) is forward_propagation_n
    # Any other course_utils function is a grader callback: its name could tell the case.
    assert wire.qualified_name(standins.cubic_cost) is None
    assert wire.qualified_name(lambda x: x) is None
    assert wire.qualified_name(np.sum) is None
    for refused in ("os:system", "course_utils.standins:cubic_cost"):
        with pytest.raises(wire.WireError):
            wire.resolve_qualified(refused)
    # Without a resolver a reference decodes to an opaque value, never to a callable.
    assert isinstance(wire.decode({"$function": qualified}), wire.Opaque)


def test_every_public_forward_pass_and_n_d_cost_crosses_by_name():
    """A checker calls them hundreds of times a call: as callbacks, each a round trip to the
    grader, an honest answer runs out of time on a loaded machine. A new one must be listed."""
    import course_utils

    frequent = {
        f"{function.__module__}:{name}"
        for name in course_utils.__all__
        if callable(function := getattr(course_utils, name))
        and (name.endswith(("forward_n", "forward_propagation_n", "_cost_n")))
        and not name.startswith(("buggy", "complex"))
    }
    assert frequent == wire.BY_NAME
