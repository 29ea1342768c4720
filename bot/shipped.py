"""Where the files shipped with Huibao are (questionnaires, summary templates, phrases).

A module of its own, importing nothing: the summary's renderer needs the folder, and should
not pay for the settings' pydantic models to find it (a roll-up's process would carry them).
"""

from __future__ import annotations

from pathlib import Path


def templates_dir() -> Path:
    """Where the shipped templates are: inside the wheel, or the repository's templates/.

    The default of `questionnaires_dir` and `summary_templates_dir` (their subfolders).
    """
    packaged = Path(__file__).parent / "_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"
