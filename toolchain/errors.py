"""The package's exception tree.

Every error a user can cause derives from :class:`SbnError`; the CLI prints its message on
one line and exits with code 1. Anything else escaping is a bug and keeps its traceback.

    SbnError
    ├── ConfigError          bad argument or configuration value
    ├── OutputError          an output that cannot be written: in use by another run, a
    │                        read-only or full disk, a name too long
    ├── DataError            missing/corrupt dataset files, class-count mismatch
    ├── CheckpointError      unreadable checkpoint, wrong architecture or format version
    ├── ExportError          a module or layer the NIR exporter cannot express
    ├── GraphError           corrupt/unsupported NIR graph, bad partition cut
    ├── MappingError         a graph that does not fit a target
    │   └── OutOfCores       more cores than the chips hold (carries the reason and chips)
    ├── SimulationError      Lava run failures
    └── WireError            a payload the wire cannot carry (not binary spikes)
        └── FrameLost        a received frame that does not decode; callers count it as a
                             lost frame and go on (it reaches the CLI only as a bug)
"""


class SbnError(Exception):
    """Base class of every error the toolchain raises on purpose."""


class ConfigError(SbnError, ValueError):
    """An argument or configuration value is out of range or inconsistent."""


class OutputError(SbnError):
    """An output cannot be written now: another run holds it, or the file system refuses."""


class DataError(SbnError):
    """A dataset is missing, corrupt, or not what the model expects."""


class CheckpointError(SbnError):
    """A checkpoint cannot be read, or belongs to another architecture or format."""


class ExportError(SbnError):
    """The model holds something the NIR exporter cannot express exactly."""


class GraphError(SbnError):
    """A NIR graph is corrupt, unsupported, or cannot be cut as asked."""


class MappingError(SbnError):
    """A graph does not fit the chosen neuromorphic target."""


class OutOfCores(MappingError):
    """A graph needs more cores than the target has: ``reason`` says where, ``chips`` is the
    board that would hold it (the message adds the hint for `sbn map`'s --chips; a caller
    without that option shows ``reason`` alone)."""

    def __init__(self, reason: str, chips: int) -> None:
        super().__init__(f"{reason}; try --chips {chips}")
        self.reason, self.chips = reason, chips

    def __reduce__(self):  # pickled across processes (Ray) with both fields, not the message
        return type(self), (self.reason, self.chips)


class SimulationError(SbnError):
    """The Lava simulation could not run."""


class WireError(SbnError):
    """A payload the wire cannot carry: a codec takes binary spikes only."""


class FrameLost(WireError):
    """A received frame that does not decode (a corrupted header, a length that does not
    match, a stream the entropy coder rejects). Not a user error: the link counts the frame
    as lost and hands the edge an all-zero payload instead."""
