#!/usr/bin/env python3
"""Writes the seed inputs of both fuzz targets (run from anywhere; no dependencies).

snapshot_decode: one selector byte, then a record body. An even selector makes the target put
a valid header (format 1, a uuid, state version 7) in front; an odd one uses the bytes as the
whole record, so those seeds carry the header themselves.

dispatch_by_name: one byte below 0x80 picks the action from the target's NAMES list, the rest
is the argument map as CBOR or JSON. A byte of 0x80 or more is followed by the name, a NUL and
the arguments.
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    if isinstance(v, Tag):
        return head(6, v.tag) + cbor(v.value)
    raise TypeError(v)


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- snapshot_decode -------------------------------------------------------------------

INNER = {"name": "n", "kind": "Unit", "more": None, "flag": False}
DEFAULT_STATE = {
    "inner": INNER,
    "kinds": [],
    "maybe": None,
    "bytes": b"",
    "map": {},
    "text": "",
    "big": 0,
    "float": 0.0,
    "tuple": [0, "", None],
    "set": [],
    "small": None,
    "touched": 0,
}
RICH_STATE = {
    "inner": {
        "name": "inner",
        "kind": {"Struct": {"id": 7, "tag": "t"}},
        "more": [{"Newtype": -3}, {"Tuple": [1, "x"]}, {"Nested": {"Nested": "Unit"}}],
        "flag": True,
    },
    "kinds": ["Unit", {"Newtype": 9}],
    "maybe": {"name": "", "kind": "Unit", "more": None, "flag": True},
    "bytes": bytes(range(8)),
    "map": {1: "one", 2**64 - 1: "max"},
    "text": "h\u00e9llo",
    "big": Tag(3, (2**100).to_bytes(13, "big")),  # -(2**100) - 1 as a CBOR negative bignum
    "float": -1.5,
    "tuple": [255, "t", True],
    "set": [1, 2, 3],
    "small": 65535,
    "touched": 41,
}
HEADER = bytes([1]) + bytes(range(16)) + struct.pack("<I", 7)

write("snapshot_decode", "default", b"\x00" + cbor(DEFAULT_STATE))
write("snapshot_decode", "rich", b"\x00" + cbor(RICH_STATE))
write("snapshot_decode", "full-record", b"\x01" + HEADER + cbor(RICH_STATE))
write("snapshot_decode", "old-version", b"\x01" + HEADER[:17] + struct.pack("<I", 6) + cbor(DEFAULT_STATE))

# --- dispatch_by_name ------------------------------------------------------------------

NAMES = ["add", "add_small", "get", "rename", "push_all", "set_bytes", "maybe", "place",
         "apply", "divide", "tag", "wide", "swap", "reset", "describe"]
CALLS = [
    ("add", {"by": -5}),
    ("add_small", {"a": 1, "b": -2, "c": 3}),
    ("get", {}),
    ("rename", {"name": "ada"}),
    ("push_all", {"values": [1, -1, 2**40]}),
    ("set_bytes", {"data": b"\x00\xff"}),
    ("maybe", {"value": 4, "text": None}),
    ("place", {"point": {"x": 1, "y": -1, "label": "p"}}),
    ("apply", {"op": {"Set": {"index": 0, "value": 3}}}),
    ("apply", {"op": {"Pair": [-1, {"Push": 2}]}}),
    ("divide", {"num": 7, "den": 0}),
    ("tag", {"key": "k", "value": 1}),
    ("wide", {"a": -(2**70), "b": 2**64, "f": 0.5, "flag": True, "c": "\u00e9"}),
    ("swap", {"pair": [7, "seven"]}),
    ("reset", {}),
    ("describe", {}),
]
for i, (name, args) in enumerate(CALLS):
    args = {k: (Tag(3, (2**70 - 1).to_bytes(9, "big")) if isinstance(v, int) and v < -(2**64) else
                Tag(2, v.to_bytes(9, "big")) if isinstance(v, int) and v >= 2**64 else v)
            for k, v in args.items()}
    write("dispatch_by_name", f"cbor-{i:02}-{name}", bytes([NAMES.index(name)]) + cbor(args))
write("dispatch_by_name", "json-apply", bytes([NAMES.index("apply")]) + json.dumps({"op": {"Push": 5}}).encode())
write("dispatch_by_name", "json-place", bytes([NAMES.index("place")]) + json.dumps({"point": {"x": 2, "y": 3, "label": None}}).encode())
write("dispatch_by_name", "named-add", b"\xff" + b"add\x00" + cbor({"by": 1}))
write("dispatch_by_name", "named-unknown", b"\xff" + b"no_such\x00" + cbor({}))
