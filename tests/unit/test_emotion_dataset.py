"""Discovery of labelled clips: RAVDESS names and a user's labels.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.emotion.training.dataset import DatasetError, discover

pytestmark = pytest.mark.unit


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_ravdess_names(tmp_path: Path) -> None:
    _touch(tmp_path / "Actor_01" / "03-01-05-02-01-01-01.flac")  # angry, actor 1
    _touch(tmp_path / "Actor_02" / "03-01-02-01-02-02-02.flac")  # calm -> neutral
    _touch(tmp_path / "Actor_02" / "03-01-06-01-02-02-02.flac")  # fearful: kept, no class
    _touch(tmp_path / "Actor_02" / "03-02-05-01-02-02-02.flac")  # song: ignored
    _touch(tmp_path / "Actor_02" / "notes.flac")  # not a RAVDESS name: ignored
    clips = discover(tmp_path)
    assert [(c.label, c.cls, c.speaker, c.sentence) for c in clips] == [
        ("angry", "angry", "ravdess-01", "01"),
        ("calm", "neutral", "ravdess-02", "02"),
        ("fearful", None, "ravdess-02", "02"),
    ]


def test_labels_csv(tmp_path: Path) -> None:
    _touch(tmp_path / "a.wav")
    _touch(tmp_path / "sub" / "b.wav")
    (tmp_path / "labels.csv").write_text("path,label,speaker\na.wav,Angry,cust1\nsub/b.wav,neutral,cust2\n")
    clips = discover(tmp_path)
    assert [(c.path.name, c.cls, c.speaker) for c in clips] == [("a.wav", "angry", "cust1"), ("b.wav", "neutral", "cust2")]


@pytest.mark.parametrize(
    "content,message",
    [
        ("file,label\na.wav,angry\n", "header must contain"),
        ("path,label,speaker\nmissing.wav,angry,s\n", "does not exist"),
        ("path,label,speaker\na.wav,,s\n", "empty path, label or speaker"),
    ],
)
def test_bad_labels_csv_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    _touch(tmp_path / "a.wav")
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(DatasetError, match=message):
        discover(tmp_path)


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no labelled clips"):
        discover(tmp_path)
    with pytest.raises(DatasetError, match="not a folder"):
        discover(tmp_path / "nope")
