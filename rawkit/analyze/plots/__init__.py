"""Graphs of captures: TCP time-sequence (Stevens style), IO graph, RTT over time. Each module
gathers its series from packets without matplotlib; drawing needs the optional `plot` extra."""

from rawkit.analyze.plots.figure import PlotUnavailable
from rawkit.analyze.plots.iograph import IOGraph, draw_io_graph
from rawkit.analyze.plots.rtt import RttSeries, draw_rtt, ping_log_rtt, tcp_timestamp_rtt
from rawkit.analyze.plots.tseq import TimeSequence, draw_time_sequence

KINDS = ("tseq", "io", "rtt")

__all__ = ["KINDS", "IOGraph", "PlotUnavailable", "RttSeries", "TimeSequence", "draw_io_graph", "draw_rtt",
           "draw_time_sequence", "ping_log_rtt", "tcp_timestamp_rtt"]
