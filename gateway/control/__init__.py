"""Roll-outs and writes: what is served, and every change to it.

Watching the repository, the version policies, the manager that loads, warms up, publishes
and drains versions, release switches, uploads, and the ControlPlane the repository
endpoints call. Builds on gateway.serving, never the other way round.
"""

from gateway.control.control_plane import ControlPlane
from gateway.control.manager import ModelManager
from gateway.control.release_switch import ReleaseSwitch
from gateway.control.reloader import Reloader
from gateway.control.statuses import VersionState, VersionStatus

__all__ = [
    "ControlPlane",
    "ModelManager",
    "ReleaseSwitch",
    "Reloader",
    "VersionState",
    "VersionStatus",
]
