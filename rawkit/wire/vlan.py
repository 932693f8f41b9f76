"""IEEE 802.1Q VLAN tags and 802.1ad (QinQ) service tags: TCI (PCP, DEI, VID) + inner EtherType."""

from __future__ import annotations

from collections.abc import Sequence

from rawkit.wire.constants import EtherType
from rawkit.wire.layer import Layer, type_of

TAG_LEN = 4
TAG_TYPES = frozenset((EtherType.VLAN, EtherType.QINQ, EtherType.QINQ_OLD))


class VlanView:
    """One 4-byte tag. `tpid` is the EtherType that announced it (0x8100, 0x88a8, 0x9100)."""

    __slots__ = ("_buf", "_off", "tpid")

    def __init__(self, buf: bytes, off: int, tpid: int) -> None:
        self._buf = buf
        self._off = off
        self.tpid = tpid

    @property
    def tci(self) -> int:
        return self._buf[self._off] << 8 | self._buf[self._off + 1]

    @property
    def pcp(self) -> int:
        return self._buf[self._off] >> 5

    @property
    def dei(self) -> int:
        return self._buf[self._off] >> 4 & 1

    @property
    def vid(self) -> int:
        return self.tci & 0x0FFF

    @property
    def type(self) -> int:
        """The EtherType that follows this tag."""
        return self._buf[self._off + 2] << 8 | self._buf[self._off + 3]

    header_len = TAG_LEN

    def builder(self) -> Dot1Q:
        kind = Dot1AD if self.tpid == EtherType.QINQ else Dot1Q
        return kind(pcp=self.pcp, dei=self.dei, vid=self.vid, type=self.type)

    def __repr__(self) -> str:
        return f"<VLAN vid {self.vid} pcp {self.pcp} type 0x{self.type:04x}>"


class Dot1Q(Layer):
    """An 802.1Q customer tag (TPID 0x8100)."""

    FIELDS = {"pcp": 0, "dei": 0, "vid": 1, "type": None}
    ETHERTYPE = EtherType.VLAN

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        tci = (self.pcp & 7) << 13 | (self.dei & 1) << 12 | (self.vid & 0x0FFF)
        inner = self.type if self.type is not None else type_of(above, "ETHERTYPE", 0x9000)
        return tci.to_bytes(2, "big") + inner.to_bytes(2, "big") + payload


class Dot1AD(Dot1Q):
    """An 802.1ad service tag (TPID 0x88a8), the outer tag of QinQ."""

    ETHERTYPE = EtherType.QINQ
