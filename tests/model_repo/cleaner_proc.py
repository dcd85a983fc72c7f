"""Run as a separate process by the staging tests: open the repository over and over.

Every `Repository(root)` cleans abandoned staging boxes, as a starting server or CLI would.
Stops when `stop_file` appears.
"""

from __future__ import annotations

import sys
from pathlib import Path

from model_repo.repository import Repository


def clean_until(root: str, ready_file: str, stop_file: str) -> None:
    Path(ready_file).touch()
    while not Path(stop_file).exists():
        Repository(root)


if __name__ == "__main__":
    clean_until(*sys.argv[1:])
