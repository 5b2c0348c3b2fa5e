"""Guards against Whisper's known failure modes (pure functions).

1. Hallucinated text on silence, hold music or noise.  The first guard is upstream: only
   VAD-detected speech is decoded.  Music and noise still trigger VAD now and then, and
   Whisper then "hears" stock phrases learnt from subtitled videos ("Thanks for watching",
   "字幕由Amara.org社区提供", ...).  :func:`hallucination_reason` drops:
   - text Whisper itself scores as no speech (``no_speech_prob`` high *and* low log-prob,
     Whisper's own rule);
   - text that is only music/sound markers (``♪``, ``[Music]``, ``(音乐)``);
   - subtitle/video boilerplate that never occurs in a service call (always dropped);
   - short stock phrases that *do* occur in calls ("Thank you.", "Bye.", "谢谢") only when
     the audio barely had speech or the model was unsure;
   - very low-confidence text (average log-prob below ``min_avg_logprob``).
2. Repetition loops ("I'm sorry, I'm sorry, I'm sorry, ..."): generation length is capped
   by the audio duration in the engine, and :func:`collapse_repetitions` cuts any n-gram
   repeated many times in a row back to one or two copies; text still highly compressible
   afterwards (gzip ratio, Whisper's own measure) is dropped.
Thresholds were checked on the real clips in ../shared/data (bench/asr.py --filters).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Protocol

from models.whisper.text import is_chinese, to_simplified


@dataclass(frozen=True)
class FilterConfig:
    no_speech_threshold: float = 0.6
    no_speech_logprob: float = -1.0
    min_avg_logprob: float = -1.5
    compression_ratio_threshold: float = 2.4
    stock_phrase_max_no_speech: float = 0.3
    stock_phrase_min_logprob: float = -0.7
    stock_phrase_min_speech_ratio: float = 0.3
    loop_min_repeats_unigram: int = 5
    loop_min_repeats_ngram: int = 3
    loop_max_n: int = 12


class _Decoded(Protocol):
    text: str
    language: str
    avg_logprob: float
    no_speech_prob: float


class _WordLike(Protocol):
    text: str


# Boilerplate from subtitled videos: dropped wherever it appears.  Compared after
# lower-casing, Traditional->Simplified and removing punctuation and spaces.
ALWAYS_HALLUCINATION = (
    "amaraorg",
    "thanksforwatching",
    "thankyouforwatching",
    "pleasesubscribe",
    "likeandsubscribe",
    "subscribetomychannel",
    "subtitlesby",
    "captionsby",
    "transcriptionbycastingwords",
    "明镜与点点栏目",
    "点赞订阅转发打赏",
    "欢迎订阅明镜",
    "字幕由",
    "字幕志愿者",
    "中文字幕",
    "优优独播剧场",
    "yoyotelevisionseries",
    "谢谢观看",
    "感谢观看",
    "请订阅",
    "以上言论不代表本台立场",
)

# Short phrases real callers say too: dropped only with weak evidence of speech.
STOCK_PHRASES = frozenset(
    {
        "thankyou",
        "thanks",
        "thankyouverymuch",
        "thankyousomuch",
        "bye",
        "byebye",
        "you",
        "so",
        "okay",
        "theend",
        "seeyounexttime",
        "illseeyounexttime",
        "谢谢",
        "谢谢大家",
        "谢谢你",
        "好",
        "嗯",
        "拜拜",
        "再见",
    }
)

_MARKERS = re.compile(
    r"^[\s♪♫🎵🎶*#~.,!?()\[\]（）【】。，！？-]*(music|音乐|音樂|applause|掌声|laughter|笑声|silence|静音|blank_audio|noise|噪音)?[\s♪♫🎵🎶*#~.,!?()\[\]（）【】。，！？-]*$",
    re.I,
)


def compact(s: str) -> str:
    """Lower-case, Simplified, no punctuation/symbols/spaces: for phrase matching."""
    s = to_simplified(unicodedata.normalize("NFKC", s)).lower()
    return "".join(c for c in s if unicodedata.category(c)[0] in ("L", "N"))


def compression_ratio(s: str) -> float:
    b = s.encode("utf-8")
    return len(b) / len(zlib.compress(b)) if b else 0.0


def hallucination_reason(res: _Decoded, cfg: FilterConfig, speech_ratio: float = 1.0) -> str:
    """Why this decoded text must not be emitted ('' = keep it)."""
    text = res.text.strip()
    if not text:
        return ""
    if res.no_speech_prob > cfg.no_speech_threshold and res.avg_logprob < cfg.no_speech_logprob:
        return "no_speech"
    if _MARKERS.match(text):
        return "markers"
    c = compact(text)
    if not c:
        return "markers"
    for phrase in ALWAYS_HALLUCINATION:
        if phrase in c:
            return "stock_boilerplate"
    if c in STOCK_PHRASES and (
        res.no_speech_prob > cfg.stock_phrase_max_no_speech
        or res.avg_logprob < cfg.stock_phrase_min_logprob
        or speech_ratio < cfg.stock_phrase_min_speech_ratio
    ):
        return "stock_phrase"
    if res.avg_logprob < cfg.min_avg_logprob:
        return "low_confidence"
    if compression_ratio(text) > cfg.compression_ratio_threshold:
        return "repetition"
    return ""


def _units(text: str, language: str | None) -> list[str]:
    if is_chinese(language):
        return [c for c in text if not c.isspace()]
    return text.split()


def _key(u: str) -> str:
    return compact(u) or u


def find_loops(keys: list[str], cfg: FilterConfig) -> list[tuple[int, int, int]]:
    """Runs of a repeated n-gram: (start, n, repeats), left to right, non-overlapping."""
    loops = []
    i = 0
    while i < len(keys):
        best = None
        for n in range(1, min(cfg.loop_max_n, (len(keys) - i) // 2) + 1):
            reps = 1
            while keys[i + reps * n : i + (reps + 1) * n] == keys[i : i + n]:
                reps += 1
            need = cfg.loop_min_repeats_unigram if n == 1 else cfg.loop_min_repeats_ngram
            if reps >= need and (best is None or reps * n > best[1] * best[2]):
                best = (i, n, reps)
        if best:
            loops.append(best)
            i = best[0] + best[1] * best[2]
        else:
            i += 1
    return loops


def collapse_units(units: list, keys: list[str], cfg: FilterConfig) -> list:
    """Keep one copy of each looping n-gram (two of a looping single word)."""
    out: list = []
    prev = 0
    for start, n, reps in find_loops(keys, cfg):
        keep = 2 if n == 1 else 1
        out.extend(units[prev : start + n * keep])
        prev = start + n * reps
    out.extend(units[prev:])
    return out


def collapse_repetitions(words: list, text: str, language: str | None, cfg: FilterConfig) -> tuple[list, str]:
    """Remove repetition loops from the word list and the text; returns (words, text)."""
    if words:
        keys = [_key(w.text) for w in words]
        if not find_loops(keys, cfg):
            return words, text
        kept = collapse_units(words, keys, cfg)
        joined = "".join(w.text for w in kept)
        sep = "" if is_chinese(language) else " "
        return kept, sep.join(joined.split()) if sep else joined.strip()
    units = _units(text, language)
    keys = [_key(u) for u in units]
    if not find_loops(keys, cfg):
        return words, text
    sep = "" if is_chinese(language) else " "
    return words, sep.join(collapse_units(units, keys, cfg))
