"""Plain data across the wall between the grader and a student's kernel.

When work is graded, the grader calls the student's functions inside a sandboxed kernel.
What crosses is JSON text built from plain data only: ``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, numeric numpy scalars and arrays (raw bytes in base64, never pickle),
and lists, tuples and dicts of those. Anything else is sent as an :class:`Opaque` marker
that fails every comparison on the grader's side.

Functions cannot cross. A function argument goes by reference: a module-level function of
``course_utils`` by its qualified name, a function of the student's notebook by its global
name, and any other function of the grader as a *callback*: the kernel asks the grader to
run it (through ``input()``, on the kernel's stdin channel) and gets plain data back.

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
# The mimetype of a result published by serve(); the grader reads only this.
RESULT_MIMETYPE = "application/x-gradcheck-result+json"
# The prefix of a callback request sent through input().
CALLBACK_PROMPT = "gradcheck-callback:"


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
    """``"course_utils.module:name"`` for a module-level function of course_utils, else None."""
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", "") or ""
    if not (module == "course_utils" or module.startswith("course_utils.")) or "." in name:
        return None
    found = getattr(sys.modules.get(module), name, None)
    return f"{module}:{name}" if found is function else None


def resolve_qualified(reference):
    """The course_utils function named ``"course_utils.module:name"``."""
    module, _, name = str(reference).partition(":")
    if not (module == "course_utils" or module.startswith("course_utils.")) or not name:
        raise WireError(f"not a course_utils function: {reference!r}")
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


def _callback(number):
    """A stand-in for a grader function: each call asks the grader through input()."""

    def call_grader(*args, **kwargs):
        request = dumps({"callback": number, "args": encode(list(args)), "kwargs": encode(kwargs)})
        reply = loads(builtins.input(CALLBACK_PROMPT + request))
        if type(reply) is not dict:
            raise RuntimeError("the grader sent a malformed reply")
        if reply.get("ok") is not True:
            raise RuntimeError(str(reply.get("error", "the grader's function failed")))
        return decode(reply.get("value"))

    call_grader.__name__ = call_grader.__qualname__ = f"grader_function_{number}"
    return call_grader


def _kernel_functions(namespace):
    """The kernel side's resolver of function references."""

    def resolve(reference):
        if "$function" in reference:
            return resolve_qualified(reference["$function"])
        if "$kernel" in reference:
            function = namespace.get(str(reference["$kernel"]))
            if not callable(function):
                raise NameError(f"your notebook defines no function {reference['$kernel']!r}")
            return function
        return _callback(int(reference["$callback"]))

    return resolve


def _publish(payload):
    from IPython.display import publish_display_data

    publish_display_data({RESULT_MIMETYPE: payload})


def serve(request, namespace):
    """Kernel side: call the requested function of ``namespace`` and publish the outcome.

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
    _publish(outcome)


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
