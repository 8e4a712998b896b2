"""runhive's protobuf messages for the client: `from . import _pb as pb`, then `pb.Batch`, `pb.RunInfo`, ...

The classes are those of the generated `runhive.protocol.v1.service_pb2`, built from the same serialized
descriptor. Importing the generated module runs protobuf's Python descriptor layer (`descriptor_pool`, which
imports `python_message` and `text_format` whatever the backend): ~8 ms of the ~20 ms that a warm `init()`
may take. With the upb backend (protobuf's default since 4.21), a message class is made by upb's metaclass
from a descriptor in upb's pool, which is what that layer does too; this module does only that. upb keeps one
class per descriptor, so these are the very classes the generated module has (the daemon imports both).

Any other backend, or a protobuf whose C module lacks what is used here, gets the generated module.
`tests/test_wire.py` checks that the fast path is taken with the pinned protobuf and gives the same classes.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runhive.protocol.v1.service_pb2 import *  # noqa: F403

_GENERATED = "runhive.protocol.v1.service_pb2"


def _fast() -> dict[str, Any]:
    from google._upb import _message  # protobuf's C backend: not a public module
    from google.protobuf import message
    from google.protobuf.internal import enum_type_wrapper

    from runhive.protocol.v1.service_desc import SERIALIZED

    file = _message.default_pool.AddSerializedFile(SERIALIZED)
    names: dict[str, Any] = {"DESCRIPTOR": file}

    def make(desc: Any) -> Any:
        attrs: dict[str, Any] = {"DESCRIPTOR": desc, "__module__": _GENERATED}
        for nested in desc.nested_types:
            attrs[nested.name] = make(nested)
        return _message.MessageMeta(desc.name, (message.Message,), attrs)

    for name, desc in file.message_types_by_name.items():
        names[name] = make(desc)
    enums: dict[str, Any] = dict(file.enum_types_by_name)
    for name, enum in enums.items():
        names[name] = enum_type_wrapper.EnumTypeWrapper(enum)
        names.update((v.name, v.number) for v in enum.values)
    return names


def _load() -> dict[str, Any]:
    if _GENERATED not in sys.modules:
        try:
            from google.protobuf.internal import api_implementation

            if api_implementation.Type() == "upb":
                return _fast()
        except (ImportError, AttributeError, TypeError):
            pass
    # Through the import system, not sys.modules: another thread may be half-way through importing the
    # generated module, and the import lock makes us wait for the whole of it.
    generated = importlib.import_module(_GENERATED)
    return {k: v for k, v in vars(generated).items() if not k.startswith("__")}


FAST = _GENERATED not in sys.modules
globals().update(_load())
FAST = FAST and _GENERATED not in sys.modules
