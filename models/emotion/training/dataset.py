"""Labelled emotion clips on disk: discovery and label mapping (no audio decoding here).

Two layouts are understood, so the training/evaluation commands work on RAVDESS and on a
user's own labelled calls alike:

1. RAVDESS file names anywhere under the folder: ``03-01-EE-II-SS-RR-AA.(flac|wav)``
   (EE emotion code, AA actor = speaker).
2. A ``labels.csv`` in the folder with a header and the columns ``path,label,speaker``
   (``path`` relative to the folder; ``label`` one of neutral, calm, angry, sad, happy, or
   any other word, which is kept for the baseline pool but not trained on).  Use this for
   your own calls: cut each labelled stretch into its own file, one speaker per file.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

CLASSES: tuple[str, ...] = ("neutral", "angry", "sad", "happy")
AGITATED = "angry"  # the binary "agitated vs not" signal is p(angry)

# RAVDESS emotion code -> label as written in the file name's documentation
RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
# raw label -> training class (calm is a low-arousal neutral; the rest are not trained on)
TO_CLASS = {"neutral": "neutral", "calm": "neutral", "angry": "angry", "sad": "sad", "happy": "happy"}

_RAVDESS_RE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.(flac|wav)$", re.IGNORECASE)
AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3")


class DatasetError(ValueError):
    """The folder holds no labelled clips, or its labels file is malformed."""


@dataclass(frozen=True, slots=True)
class Clip:
    path: Path
    label: str  # raw label (e.g. "calm", "fearful")
    speaker: str
    sentence: str = ""  # RAVDESS statement code, "" when unknown

    @property
    def cls(self) -> str | None:
        """Training class, or None for emotions the model does not output."""
        return TO_CLASS.get(self.label)


def discover(root: Path) -> list[Clip]:
    """All labelled clips under ``root`` (labels.csv wins over file-name parsing)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    labels = root / "labels.csv"
    clips = _from_csv(root, labels) if labels.is_file() else _from_ravdess_names(root)
    if not clips:
        raise DatasetError(
            f"no labelled clips under {root}: expected RAVDESS-named files (03-01-EE-II-SS-RR-AA.flac) "
            "or a labels.csv with columns path,label,speaker"
        )
    return sorted(clips, key=lambda c: str(c.path))


def _from_ravdess_names(root: Path) -> list[Clip]:
    clips = []
    for p in _walk(root):
        m = _RAVDESS_RE.match(p.name)
        if not m:
            continue
        modality, vocal, emo = m.group(1), m.group(2), m.group(3)
        if modality not in ("01", "02", "03") or vocal != "01" or emo not in RAVDESS_EMOTIONS:
            continue  # video-only / song files, unknown codes
        clips.append(Clip(p, RAVDESS_EMOTIONS[emo], f"ravdess-{m.group(7)}", m.group(5)))
    return clips


def _walk(root: Path) -> list[Path]:
    # os.walk follows symlinked folders (Path.rglob does not before 3.13): a folder of links
    # to selected speakers is the easy way to evaluate on a subset
    out = []
    for dirpath, _dirs, files in os.walk(root, followlinks=True):
        out += [Path(dirpath) / f for f in files]
    return out


def _from_csv(root: Path, labels: Path) -> list[Clip]:
    clips = []
    with labels.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"path", "label", "speaker"}
        if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
            raise DatasetError(f"{labels}: header must contain {', '.join(sorted(need))}")
        for lineno, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if not row["path"] or not row["label"] or not row["speaker"]:
                raise DatasetError(f"{labels}:{lineno}: empty path, label or speaker")
            path = (root / row["path"]).resolve()
            if not path.is_file():
                raise DatasetError(f"{labels}:{lineno}: {row['path']} does not exist")
            clips.append(Clip(path, row["label"].lower(), row["speaker"], row.get("sentence", "")))
    return clips
