"""The log file handler: like RotatingFileHandler, but its files are private to their user.

Logs carry phone numbers, instance ids and failure details. Python creates them with the
process's umask (0644 usually); this handler opens every file, the one after a rotation too,
with mode 0600, and tightens a file an older version left readable by others.
"""

from __future__ import annotations

import os
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler

LOG_FILE_MODE = 0o600


class PrivateRotatingFileHandler(RotatingFileHandler):
    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, LOG_FILE_MODE)
        try:
            os.fchmod(fd, LOG_FILE_MODE)
            # Always appending (O_APPEND above), as RotatingFileHandler does when it rotates.
            return open(fd, "a", encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise
