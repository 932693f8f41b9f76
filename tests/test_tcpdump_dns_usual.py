"""The DNS summary's shortcut for the commonest messages (dns._usual) against its general walk.

Why: `rawkit read` takes the shortcut for most DNS packets; tcpdump is the oracle for the general
walk (test_tcpdump_app_dns.py), so every message the shortcut accepts must read the same both ways.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_tcpdump_app_support import message, pointer, question, record

from rawkit.wire.tcpdump.dns import _Summary, _Truncated, _usual

_NAMES = st.sampled_from(["example.com", "host0.rawkit.test", "a", "x.y.z.w", "caf\xe9.test",
                          "bad\x01label.test", b"\x00", b"\x03abc\xc0\x0c", b"\x41\x08\xff\x00"])
_ANSWER = st.tuples(st.sampled_from([pointer(12), b"\x03abc\x00", b"\xc0"]),
                    st.sampled_from([1, 28, 5, 41]), st.sampled_from([1, 3, 0x8001]),
                    st.sampled_from([b"\xc6\x12\x00\x01", bytes(range(16)), b"\x01\x02", b"\x01x\x00"]))


def _general(payload: bytes, length: int) -> str:
    summary = _Summary(payload, length, 0, False)
    try:
        summary.message()
    except _Truncated:
        summary.out.append(" [|domain]")
    return "".join(summary.out)


@settings(max_examples=600, deadline=None)
@given(st.integers(0, 0xFFFF), st.booleans(), st.integers(0, 0xFFFF), _NAMES,
       st.sampled_from([1, 28, 12, 255]), st.sampled_from([1, 3, 0x8001]), st.lists(_ANSWER, max_size=3),
       st.integers(0, 3), st.integers(0, 2), st.integers(0, 400))
def test_usual_equals_general(ident: int, response: bool, flag_bits: int, name: str | bytes, qtype: int,
                              qclass: int, answers: list, extra_questions: int, cut: int,
                              wire_extra: int) -> None:
    answer_records = [record(rname, rtype, rdata, rclass=rclass) for rname, rtype, rclass, rdata in answers]
    payload = message(ident, qr=response, qd=[question(name, qtype, qclass)] * (1 + extra_questions % 2),
                      an=answer_records if response or extra_questions == 3 else [])
    flags = (payload[2] << 8 | payload[3]) ^ (flag_bits & 0x7FFF if flag_bits & 1 else flag_bits & 0x06B0)
    payload = payload[:2] + flags.to_bytes(2, "big") + payload[4:]
    payload = payload[: len(payload) - cut]
    if len(payload) < 12:
        return
    length = len(payload) + wire_extra % 3
    text = _usual(payload, length)
    if text is not None:
        assert text == _general(payload, length)


def test_usual_takes_the_common_shapes() -> None:
    query = message(7, qd=[question("host0.rawkit.test")])
    reply = message(7, qr=True, ra=True, qd=[question("host0.rawkit.test")],
                    an=[record(pointer(12), 1, b"\xc6\x12\x00\x02"), record(pointer(12), 28, bytes(16))])
    assert _usual(query, len(query)) == _general(query, len(query)) == "7+ A? host0.rawkit.test. (35)"
    assert _usual(reply, len(reply)) == _general(reply, len(reply)) == "7 2/0/0 A 198.18.0.2, AAAA :: (79)"
