"""Decode CAN frames with canmatrix, the independent implementation of the differential tests.

Run with the Debian interpreter (/usr/bin/python3, package python3-canmatrix). Reads one JSON
document on stdin:

    {"cases": [{"dbc": "/path/file.dbc", "frames": [{"id": 291, "extended": false, "data": "0a0b"}]}]}

and prints one JSON document on stdout:

    {"results": [{"error": null, "frames": [{"Sig": {"raw": "10", "value": "0.1"}} | {"error": "..."}]}]}

Values are strings (exact integers, canmatrix's Decimal values, "NaN", "Infinity") so nothing is
rounded on the way; the test parses them. canmatrix prints diagnostics on stdout while importing and
loading, so stdout is redirected to stderr around every canmatrix call.
"""

import contextlib
import json
import sys


def as_text(value):
    """Exact text of an int, Decimal or float; non-finite values as JavaScript spells them."""
    text = str(value)
    return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity", "sNaN": "NaN"}.get(text, text)


def decode_case(dbc_module, arbitration_id, case):
    with open(case["dbc"], "rb") as f:
        db = dbc_module.load(f)
    out = []
    for frame in case["frames"]:
        try:
            message = db.frame_by_id(arbitration_id(id=frame["id"], extended=frame["extended"]))
            if message is None:
                out.append({"error": "unknown id"})
                continue
            decoded = message.decode(bytearray.fromhex(frame["data"]))
            out.append({
                name: {"raw": as_text(sig.raw_value), "value": as_text(sig.phys_value)}
                for name, sig in decoded.items()
            })
        except Exception as e:  # noqa: BLE001 - reported per frame, the batch goes on
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    return {"error": None, "frames": out}


def main():
    request = json.load(sys.stdin)
    real_stdout = sys.stdout
    results = []
    with contextlib.redirect_stdout(sys.stderr):
        import canmatrix
        import canmatrix.formats.dbc as dbc_module

        for case in request["cases"]:
            try:
                results.append(decode_case(dbc_module, canmatrix.ArbitrationId, case))
            except Exception as e:  # noqa: BLE001
                results.append({"error": "%s: %s" % (type(e).__name__, e), "frames": []})
    json.dump({"results": results}, real_stdout)
    real_stdout.write("\n")


if __name__ == "__main__":
    main()
