"""Plain data across the wall between the grader and a student's kernel.

When work is graded, the grader calls the student's functions inside a sandboxed kernel.
What crosses is JSON text built from plain data only: ``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, numeric numpy scalars and arrays (raw bytes in base64, never pickle),
and lists, tuples and dicts of those. Anything else is sent as an :class:`Opaque` marker
that fails every comparison on the grader's side.

Functions cannot cross. A function argument goes by reference: a function of the student's
notebook by its global name, one of the few public ``course_utils`` functions in
:data:`BY_NAME` (called too often for a round trip each) by its qualified name, run in the
kernel under an anonymous wrapper, and any other
function of the grader as a *callback*: an anonymous handle (named ``function``, no
docstring) that asks the grader to run it (through ``input()``, on the kernel's stdin
channel) and gets plain data back. A handle carries a token valid for the call it was
handed to only, and the grader's refusals and failures come back as one generic message.

The outcome of a call also travels on the stdin channel (:data:`RESULT_PROMPT`), which
never drops a message: the grader need not read anything the kernel publishes.

The kernel side (:func:`serve`) runs student code and is as untrustworthy as that code;
the grader side only ever calls :func:`decode`, which builds nothing but the types above.
"""

from __future__ import annotations

import base64
import builtins
import importlib
import json
import math
import sys

import numpy as np

# What a result may weigh, and how deep it may nest, before the grader refuses to read it.
MAX_MESSAGE_BYTES = 64 * 2**20
MAX_DEPTH = 32
# numpy kinds that cross as raw bytes: bool, signed and unsigned ints, floats, complex.
ARRAY_KINDS = "biufc"
# The prefixes of a call's outcome and of a callback request, both sent through input().
RESULT_PROMPT = "gradcheck-result:"
CALLBACK_PROMPT = "gradcheck-callback:"
# What the kernel is told when the grader refuses or fails to run one of its functions:
# the same words whatever happened, so that no error text says anything about a case.
CALLBACK_REFUSED = "the function given to you could not run on these arguments"
# The course_utils functions that cross by name and run in the kernel: public forward passes
# and stand-in costs that a checker calls hundreds or thousands of times per call (a
# round trip to the grader each would be slow, and slower still on a loaded machine). In the
# kernel each is an anonymous wrapper; being public code, any of them could be recognised
# by what it computes anyway, so hidden cases hand over grader-only functions, which are
# anonymous callbacks run on the grader's side, as is every other grader function.
BY_NAME = frozenset({
    "course_utils.network:forward_propagation_n",
    "course_utils.practice:logcosh_forward_n",
    "course_utils.practice:cubic_sum_forward_n",
    "course_utils.practice:exp_sine_sum_forward_n",
    "course_utils.practice:hinged_logcosh_forward_n",
    "course_utils.practice:leaky_forward_propagation_n",
    "course_utils.practice:squared_error_forward_propagation_n",
    "course_utils.standins:quadratic_cost_n",
    "course_utils.standins:cubic_cost_n",
    "course_utils.standins:sine_cost_n",
    "course_utils.standins:flat_cost_n",
})


class WireError(ValueError):
    """Data that cannot cross: malformed, too large, too deep, or of a refused kind."""


class Opaque:
    """Stands for a value of a type that may not cross (a class instance, a generator...).

    It equals nothing, is neither true nor false, and converts to no number, so every
    check that receives one fails without raising anywhere but inside the check.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name):
        self.type_name = str(type_name)[:100]

    def __repr__(self):
        return f"<a {self.type_name}>"

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = None

    def __bool__(self):
        raise TypeError(f"a {self.type_name} has no truth value here")


def type_name(value):
    """``module.Class`` of a value, or just ``Class`` for builtins."""
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", "?")
    return name if module == "builtins" else f"{module}.{name}"


def qualified_name(function):
    """``"course_utils.module:name"`` for a function of :data:`BY_NAME`, else None."""
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", "") or ""
    if f"{module}:{name}" not in BY_NAME:
        return None
    found = getattr(sys.modules.get(module), name, None)
    return f"{module}:{name}" if found is function else None


def resolve_qualified(reference):
    """The course_utils function named ``"course_utils.module:name"`` (one of :data:`BY_NAME`)."""
    module, _, name = str(reference).partition(":")
    if str(reference) not in BY_NAME:
        raise WireError(f"not a course_utils function that crosses by name: {reference!r}")
    function = getattr(importlib.import_module(module), name, None)
    if not callable(function):
        raise WireError(f"{reference!r} is not a function of course_utils")
    return function


def encode(value, functions=None, _depth=0):
    """Turn ``value`` into JSON-ready plain data.

    Parameters
    ----------
    value : object
        What to send.
    functions : callable, optional
        ``functions(f)`` returns the JSON reference of a function argument (see the module
        docstring); without it, functions are sent as opaque values.

    Returns
    -------
    object
        Lists, dicts with string keys, strings, numbers, booleans and None.
    """
    if _depth > MAX_DEPTH:
        return {"$opaque": "structure nested too deep"}
    value = _plain(value)
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if abs(value) < 2**63 else {"$opaque": "int too large"}
    if kind is float or kind is np.float64:
        return _encode_float(float(value))
    if kind is complex:
        return {"$complex": [_encode_float(value.real), _encode_float(value.imag)]}
    if (
        isinstance(value, np.generic)
        and kind.__module__ == "numpy"
        and value.dtype.kind in ARRAY_KINDS
    ):
        return {"$scalar": value.dtype.str, "data": _b64(np.asarray(value).tobytes())}
    if kind is np.ndarray:
        if value.dtype.kind not in ARRAY_KINDS or value.dtype.fields is not None:
            return {"$opaque": f"numpy.ndarray of dtype {value.dtype}"}
        data = np.ascontiguousarray(value)
        return {"$ndarray": data.dtype.str, "shape": list(data.shape), "data": _b64(data.tobytes())}
    if kind is list or kind is tuple:
        items = [encode(item, functions, _depth + 1) for item in value]
        return items if kind is list else {"$tuple": items}
    if kind is dict:
        # numpy's str_ keys (from iterating an array of names) are honest strings.
        if not all(isinstance(key, str) for key in value):
            return {"$opaque": "dict with non-string keys"}
        return {
            "$dict": [
                [str(key), encode(item, functions, _depth + 1)] for key, item in value.items()
            ]
        }
    if kind is Opaque:
        return {"$opaque": value.type_name}
    if callable(value) and functions is not None:
        return functions(value)
    return {"$opaque": type_name(value)}


def _plain(value):
    """Subclasses of plain types as their plain value: numpy's ``str_``, ``OrderedDict``, a
    namedtuple, an ndarray subclass. Only the value crosses, so a subclass's own methods
    (a lying ``__eq__``) stay behind, and an honest answer of such a type is read as what
    it is."""
    kind = type(value)
    if kind in (bool, int, float, complex, str, list, tuple, dict, np.ndarray) or value is None:
        return value
    if isinstance(value, np.generic):
        return value
    try:
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, dict):
            return {(str(k) if isinstance(k, str) else k): v for k, v in dict.items(value)}
        if isinstance(value, tuple):
            return tuple(tuple.__iter__(value))
        if isinstance(value, list):
            return list(list.__iter__(value))
        if isinstance(value, np.ndarray):
            return np.asarray(value).view(np.ndarray)
    except Exception:  # a subclass that refuses to convert is sent as opaque
        return Opaque(type_name(value))
    return value


def _encode_float(number):
    # JSON has no NaN or infinity: spell them out.
    if math.isfinite(number):
        return number
    return {"$float": repr(number)}


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


def decode(data, functions=None, _depth=0):
    """Rebuild plain data sent by :func:`encode`; never builds anything else.

    Parameters
    ----------
    data : object
        Parsed JSON.
    functions : callable, optional
        ``functions(reference)`` turns a function reference back into a callable (the
        kernel side); the grader passes None and receives opaque values instead.

    Raises
    ------
    WireError
        For anything malformed.
    """
    if _depth > MAX_DEPTH:
        raise WireError("data nested too deep")
    kind = type(data)
    if data is None or kind in (bool, str, float):
        return data
    if kind is int:
        return data
    if kind is list:
        return [decode(item, functions, _depth + 1) for item in data]
    if kind is not dict or len(data) not in (1, 2, 3):
        raise WireError(f"unexpected {kind.__name__} in data")
    if "$float" in data:
        text = data["$float"]
        if text not in ("nan", "inf", "-inf"):
            raise WireError("bad special float")
        return float(text)
    if "$complex" in data:
        real, imag = (decode(part, None, _depth + 1) for part in _pair(data["$complex"]))
        if type(real) is not float and type(real) is not int:
            raise WireError("bad complex")
        if type(imag) is not float and type(imag) is not int:
            raise WireError("bad complex")
        return complex(real, imag)
    if "$scalar" in data:
        dtype = _dtype(data["$scalar"])
        raw = _unb64(data.get("data"))
        if len(raw) != dtype.itemsize:
            raise WireError("bad numpy scalar")
        return np.frombuffer(raw, dtype=dtype)[0]
    if "$ndarray" in data:
        dtype = _dtype(data["$ndarray"])
        shape = data.get("shape")
        if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
            raise WireError("bad array shape")
        raw = _unb64(data.get("data"))
        if len(raw) != dtype.itemsize * math.prod(shape):
            raise WireError("array data does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "$tuple" in data:
        items = data["$tuple"]
        if type(items) is not list:
            raise WireError("bad tuple")
        return tuple(decode(item, functions, _depth + 1) for item in items)
    if "$dict" in data:
        pairs = data["$dict"]
        if type(pairs) is not list:
            raise WireError("bad dict")
        result = {}
        for pair in pairs:
            key, item = _pair(pair)
            if type(key) is not str:
                raise WireError("dict keys must be strings")
            result[key] = decode(item, functions, _depth + 1)
        return result
    if "$opaque" in data:
        return Opaque(data["$opaque"])
    if "$function" in data or "$kernel" in data or "$callback" in data:
        if functions is None:
            return Opaque("function")
        return functions(data)
    raise WireError("unknown tag in data")


def _pair(value):
    if type(value) is not list or len(value) != 2:
        raise WireError("expected a pair")
    return value


def _dtype(text):
    if type(text) is not str or len(text) > 8:
        raise WireError("bad dtype")
    try:
        dtype = np.dtype(text)
    except TypeError as error:
        raise WireError("bad dtype") from error
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None:
        raise WireError(f"refused dtype {dtype}")
    return dtype


def _unb64(text):
    if type(text) is not str:
        raise WireError("bad base64 data")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise WireError("bad base64 data") from error


def loads(text):
    """Parse a JSON message of at most :data:`MAX_MESSAGE_BYTES` (no decoding of tags)."""
    if type(text) is not str or len(text) > MAX_MESSAGE_BYTES:
        raise WireError("message too large or not text")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise WireError("message is not JSON") from error


def dumps(data):
    """JSON text of encoded data."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


# The kernel side.


def _callback(token):
    """An anonymous handle on a grader function: each call asks the grader through input().

    Its name, qualname and docstring are the same for every function of every case; the
    token only tells the grader which call handed it out.
    """

    def function(*args, **kwargs):
        request = dumps({"callback": token, "args": encode(list(args)), "kwargs": encode(kwargs)})
        reply = loads(_ask_grader(CALLBACK_PROMPT + request))
        if type(reply) is not dict or reply.get("ok") is not True:
            raise RuntimeError(CALLBACK_REFUSED)
        return decode(reply.get("value"))

    function.__qualname__ = "function"
    function.__doc__ = None
    return function


def _anonymous(target):
    """``target`` under the same name as every handed function, without its docstring, and
    failing with the same words (Python's own messages name the function)."""

    def function(*args, **kwargs):
        failed = False
        try:
            return target(*args, **kwargs)
        except Exception:
            failed = True
        if failed:  # raised outside the handler: the error carries no context
            raise RuntimeError(CALLBACK_REFUSED)

    function.__qualname__ = "function"
    return function


def _kernel_functions(namespace):
    """The kernel side's resolver of function references."""

    def resolve(reference):
        if "$function" in reference:
            return _anonymous(resolve_qualified(reference["$function"]))
        if "$kernel" in reference:
            function = namespace.get(str(reference["$kernel"]))
            if not callable(function):
                raise NameError(f"your notebook defines no function {reference['$kernel']!r}")
            return function
        return _callback(str(reference["$callback"])[:64])

    return resolve


# How long input() waits for the kernel's output thread to flush before it asks the grader
# (ipykernel waits up to 10 s for each of stdout and stderr: on a loaded machine that stall
# would spend a call's whole time; the grader does not read the output anyway).
FLUSH_SECONDS = 0.2


def _ask_grader(prompt):
    """``input(prompt)``, without waiting long for the kernel's output to flush first."""
    streams = [s for s in (sys.stdout, sys.stderr) if hasattr(s, "flush_timeout")]
    saved = [stream.flush_timeout for stream in streams]
    for stream in streams:
        stream.flush_timeout = FLUSH_SECONDS
    try:
        return builtins.input(prompt)
    finally:
        for stream, timeout in zip(streams, saved, strict=True):
            stream.flush_timeout = timeout


def _send_result(payload):
    # input() goes to the grader on the stdin channel, which drops nothing (the output
    # channel drops messages when the grader does not keep up, and is not read at all).
    _ask_grader(RESULT_PROMPT + dumps(payload))


def serve(request, namespace):
    """Kernel side: call the requested function of ``namespace`` and send back the outcome.

    Parameters
    ----------
    request : str
        JSON: ``{"function": name, "args": [...], "kwargs": {...}, "replace": {...}}``,
        ``replace`` naming globals of the function to rebind during the call.
    namespace : dict
        The kernel's globals.
    """
    try:
        outcome = _serve(loads(request), namespace)
    except BaseException as error:  # the kernel reports; the grader decides
        outcome = {"ok": False, "error": type_name(error), "message": _message(error)}
    try:
        _send_result(outcome)
    except ValueError:  # an outcome JSON cannot write (a float subclass that lies)
        _send_result({"ok": False, "error": "ValueError", "message": "unreadable result"})


def _serve(request, namespace):
    resolve = _kernel_functions(namespace)
    name = request["function"]
    function = namespace.get(name)
    if not callable(function):
        return {
            "ok": False,
            "error": "NameError",
            "message": f"your notebook defines no function {name!r}",
        }
    args = decode(request.get("args", []), resolve)
    kwargs = decode(request.get("kwargs", {"$dict": []}), resolve)
    replace = decode(request.get("replace", {"$dict": []}), resolve)
    globals_ = getattr(function, "__globals__", None)
    if replace and not isinstance(globals_, dict):
        return {
            "ok": False,
            "error": "TypeError",
            "message": f"{name} is not a plain function defined in the notebook",
        }
    missing = object()
    saved = {key: globals_.get(key, missing) for key in replace} if replace else {}
    if replace:
        globals_.update(replace)
    try:
        value = function(*args, **kwargs)
    except BaseException as error:
        return {"ok": False, "error": type_name(error), "message": _message(error)}
    finally:
        for key, old in saved.items():
            if old is missing:
                globals_.pop(key, None)
            else:
                globals_[key] = old
    # Arguments go back too: the grader copies array mutations into its own copies, so a
    # check can see that a function changed the parameters it was given.
    return {"ok": True, "value": encode(value), "args": encode(args), "kwargs": encode(kwargs)}


def _message(error):
    try:
        return str(error)[:300]
    except BaseException:
        return "(an error whose message cannot be shown)"
