"""Offline analysis of captures: capinfos-style summaries and protocol hierarchy, conversations with
TCP health (tshark's `conv` tables), TCP stream following with IP defragmentation, and plots.

    from rawkit.analyze import Capture, ConversationTable, tcp_chunks
    with Capture("x.pcap") as capture:
        table = ConversationTable()
        for pkt in capture.packets():
            table.add(pkt)
    for record in table.records(): ...
"""

from rawkit.analyze.conversations import PROTOCOLS, Conversation, ConversationTable
from rawkit.analyze.defrag import OVERLAP_POLICIES, Defragmenter
from rawkit.analyze.follow import FollowPrinter, find_stream, gap_text, tcp_chunks, write_streams
from rawkit.analyze.jobs import capture_stats, conversations, run_per_file
from rawkit.analyze.reassembly import Gap, TcpReassembler
from rawkit.analyze.source import Capture
from rawkit.analyze.stats import CaptureStats, ProtocolHierarchy
from rawkit.analyze.tcp_health import TcpHealth

__all__ = ["OVERLAP_POLICIES", "PROTOCOLS", "Capture", "CaptureStats", "Conversation", "ConversationTable",
           "Defragmenter", "FollowPrinter", "Gap", "ProtocolHierarchy", "TcpHealth", "TcpReassembler",
           "capture_stats", "conversations", "find_stream", "gap_text", "run_per_file", "tcp_chunks",
           "write_streams"]
