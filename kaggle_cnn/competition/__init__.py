"""The round trip with kaggle.com: `download` a competition's files into a folder,
unzipped and marked with the competition's name, and `submit` a submission once it
has passed the same checks as `kcnn check`.

Both run the official Kaggle command-line tool (the optional `kaggle` extra) as a
child process: kaggle_cli.py finds it, looks for the credentials where it looks,
and turns its failures into one-line InputErrors; unpack.py unzips what it
downloaded; round_trip.py puts the steps in order.
"""

from kaggle_cnn.competition.round_trip import (
    MARKER,
    Download,
    Submission,
    download,
    submit,
)

__all__ = ["MARKER", "Download", "Submission", "download", "submit"]
