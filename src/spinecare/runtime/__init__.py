"""The device runtime: timing loop, clocks and the telemetry recorder.

``loop`` owns timing (absolute deadlines on an injected clock, overruns counted), ``clock``
provides the real monotonic clock and a simulated one for faster-than-real-time runs, and
``recorder`` writes a session's telemetry so that a crash loses at most about one second.
"""

from spinecare.runtime.clock import Clock, MonotonicClock, SimulatedClock
from spinecare.runtime.loop import LoopRunner, RealtimeOptions, TimingStats
from spinecare.runtime.recorder import Recorder, load_events, load_summary, load_telemetry

__all__ = [
    "Clock",
    "LoopRunner",
    "MonotonicClock",
    "RealtimeOptions",
    "Recorder",
    "SimulatedClock",
    "TimingStats",
    "load_events",
    "load_summary",
    "load_telemetry",
]
