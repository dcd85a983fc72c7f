"""The gateway's own log lines (loads, switches, drains, shadow mismatches) on stderr.

uvicorn configures only its own loggers; without this, everything below WARNING that
`modelport.*` logs would be dropped. Idempotent, so every app (and worker) may call it.
"""

from __future__ import annotations

import logging

FORMAT = "%(levelname)-9s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logger = logging.getLogger("modelport")
    if any(getattr(h, "modelport", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.modelport = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
