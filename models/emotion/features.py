"""Prosody features for the emotion model: defined once, used by training and inference.

Every window of audio, whatever its source rate, is first brought to a *canonical telephone
band* (8 kHz, 300-3400 Hz band-pass).  Wideband studio audio and µ-law phone audio then land
in the same feature space, which is what lets a model trained on acted 16 kHz speech work on
calls; it also halves the cost.  Features describe *how* something is said (pitch, loudness,
timing, spectral tilt/shape), computed over voiced frames only, so silence and pauses inside a
window do not change them.

Bump :data:`FEATURE_VERSION` whenever anything here changes: the exported model records the
version and names it was trained with, and :mod:`models.emotion.model` refuses a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import parselmouth
import soxr
from scipy.signal import butter, find_peaks, sosfilt

from models.g711 import mulaw_to_pcm16, pcm16_to_mulaw

FEATURE_VERSION = 1

SAMPLE_RATE = 8000  # canonical feature rate (telephone)
BAND_HZ = (300.0, 3400.0)
HOP = 80  # 10 ms
SPEC_FFT = 256  # 32 ms
FMIN, FMAX = 60.0, 500.0
N_MFCC = 12  # c1..c12 (c0 is overall level: gain-dependent, left to the energy features)
N_MELS = 24
SPEECH_FLOOR_DB = -70.0  # absolute floor (dBFS-like): below this a frame is never speech
SPEECH_REL_DB = 35.0  # frames more than this below the window's loud frames are background
MIN_VOICED_S = 0.4  # less voice than this in a window: no features, no emotion claim

# Analysis windows (live and offline alike): a window ends every HOP_S seconds of a stream
# and spans the WINDOW_S seconds before it (shorter at the stream start); a file adds one
# last window at its end when at least half a hop is left over.
WINDOW_S = 3.0
HOP_S = 1.0

_SOS = butter(4, BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")
_MEL = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=SPEC_FFT, n_mels=N_MELS, fmin=BAND_HZ[0], fmax=BAND_HZ[1])
_FREQS = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=SPEC_FFT)
_LOW = (_FREQS >= 300) & (_FREQS < 1000)
_HIGH = (_FREQS >= 1000) & (_FREQS <= 3400)

FEATURE_NAMES: tuple[str, ...] = (
    # pitch, in semitones re 100 Hz, over voiced frames
    "f0_mean", "f0_std", "f0_p10", "f0_p50", "f0_p90", "f0_range", "f0_slope", "f0_vel",
    # voice quality: periodicity at the pitch period (cheap HNR)
    "hnr_mean", "hnr_std",
    # energy (dBFS) of voiced frames, and its movement
    "e_mean", "e_std", "e_range", "e_vel", "e_peak",
    # spectral shape of voiced frames
    "centroid_mean", "centroid_std", "bandwidth_mean", "rolloff_mean", "flatness_mean",
    "alpha_mean", "alpha_std", "flux_mean",
    *(f"mfcc{i}_mean" for i in range(1, N_MFCC + 1)),
    *(f"mfcc{i}_std" for i in range(1, N_MFCC + 1)),
    "mfcc_vel",
    # timing
    "voiced_frac", "syll_rate", "voiced_run",
)  # fmt: skip
N_FEATURES = len(FEATURE_NAMES)


@dataclass(frozen=True, slots=True)
class WindowFeatures:
    """Features of one window, plus the descriptive numbers the worker shows as-is."""

    vector: np.ndarray | None  # float32[N_FEATURES]; None when the window has too little voice
    duration: float  # seconds of audio in the window
    voiced_s: float  # seconds of voiced frames
    speech_s: float  # seconds of frames above the speech energy gate
    speaking_rate: float  # syllable-like energy peaks per second of speech
    loudness_db: float  # mean dBFS of voiced frames (NaN without voice)
    f0_std_st: float  # pitch variability in semitones (NaN without voice): "flat" hint

    @property
    def voiced_ratio(self) -> float:
        return self.voiced_s / self.duration if self.duration > 0 else 0.0


def to_canonical(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Any-rate float audio -> 8 kHz, 300-3400 Hz band (the space all features live in)."""
    y = np.asarray(samples, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {y.shape}")
    if sample_rate != SAMPLE_RATE:
        y = soxr.resample(y, sample_rate, SAMPLE_RATE, quality="HQ")
    return sosfilt(_SOS, y).astype(np.float32)


def _pitch(y: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, 0 = unvoiced) and voicing strength on the 10 ms frame grid.

    Praat's autocorrelation tracker (via parselmouth) with its Viterbi path: it finds the
    pitch from the harmonics when the band-pass removed the fundamental (male voices on the
    phone), where librosa.yin made octave errors on 20-70 % of frames; pyin is better but
    costs ~120 ms per audio second, Praat ~4 ms.
    """
    snd = parselmouth.Sound(y.astype(np.float64), sampling_frequency=SAMPLE_RATE)
    pitch = snd.to_pitch_ac(time_step=HOP / SAMPLE_RATE, pitch_floor=FMIN, pitch_ceiling=FMAX)
    arr = pitch.selected_array
    idx = np.round(np.asarray(pitch.xs()) * SAMPLE_RATE / HOP).astype(int)
    ok = (idx >= 0) & (idx < n_frames)
    f0 = np.zeros(n_frames, dtype=np.float64)
    strength = np.zeros(n_frames, dtype=np.float64)
    f0[idx[ok]] = arr["frequency"][ok]
    strength[idx[ok]] = arr["strength"][ok]
    return f0, strength


def _stats_slope(t: np.ndarray, v: np.ndarray) -> float:
    if v.size < 3 or np.ptp(t) <= 0:
        return 0.0
    return float(np.polyfit(t, v, 1)[0])


def extract(samples: np.ndarray, sample_rate: int) -> WindowFeatures:
    """Features of one window (1-4 s of one speaker's audio, any sample rate)."""
    y = to_canonical(samples, sample_rate)
    duration = y.size / SAMPLE_RATE
    empty = WindowFeatures(None, duration, 0.0, 0.0, 0.0, float("nan"), float("nan"))
    if y.size < SPEC_FFT * 2:
        return empty

    spec = np.abs(librosa.stft(y, n_fft=SPEC_FFT, hop_length=HOP, center=True)) ** 2
    n = spec.shape[1]
    f0, period_r = _pitch(y, n)
    energy_db = 10.0 * np.log10(np.maximum(spec.sum(axis=0) * 2.0 / (SPEC_FFT * SPEC_FFT / 2.0), 1e-10))

    loud = np.percentile(energy_db, 95)
    speech = energy_db > max(SPEECH_FLOOR_DB, loud - SPEECH_REL_DB)
    voiced = speech & (f0 > 0)
    nv = int(voiced.sum())
    speech_s = float(speech.sum()) * HOP / SAMPLE_RATE
    voiced_s = nv * HOP / SAMPLE_RATE
    if voiced_s < MIN_VOICED_S:
        return WindowFeatures(None, duration, voiced_s, speech_s, 0.0, float("nan"), float("nan"))

    t = np.arange(n) * HOP / SAMPLE_RATE
    # --- pitch ---------------------------------------------------------------------------
    st = 12.0 * np.log2(f0[voiced] / 100.0)
    p10, p50, p90 = np.percentile(st, [10, 50, 90])
    # pitch velocity only between adjacent voiced frames (not across pauses)
    adj = voiced[1:] & voiced[:-1]
    st_all = 12.0 * np.log2(np.maximum(f0, 1.0) / 100.0)
    vel = np.abs(np.diff(st_all))[adj]
    f0_vel = float(np.median(vel)) if vel.size else 0.0
    # --- voice quality -------------------------------------------------------------------
    r = np.clip(period_r[voiced], 1e-3, 0.999)
    hnr = 10.0 * np.log10(r / (1.0 - r))
    # --- energy --------------------------------------------------------------------------
    ev = energy_db[voiced]
    es = energy_db[speech]
    e_vel = np.abs(np.diff(energy_db))[speech[1:] & speech[:-1]]
    # --- spectral shape ------------------------------------------------------------------
    sv = spec[:, voiced]
    tot = sv.sum(axis=0) + 1e-12
    centroid = (_FREQS[:, None] * sv).sum(axis=0) / tot
    bandwidth = np.sqrt(((_FREQS[:, None] - centroid) ** 2 * sv).sum(axis=0) / tot)
    cum = np.cumsum(sv, axis=0) / tot
    rolloff = _FREQS[np.argmax(cum >= 0.85, axis=0)]
    band = sv[(_FREQS >= BAND_HZ[0]) & (_FREQS <= BAND_HZ[1])] + 1e-12
    flatness = np.exp(np.mean(np.log(band), axis=0)) / np.mean(band, axis=0)
    alpha = 10.0 * np.log10((sv[_HIGH].sum(axis=0) + 1e-12) / (sv[_LOW].sum(axis=0) + 1e-12))
    lin = np.sqrt(spec)
    flux_all = np.sqrt((np.diff(lin / (lin.sum(axis=0) + 1e-9), axis=1) ** 2).sum(axis=0))
    flux = flux_all[voiced[1:]] if flux_all.size else np.zeros(1)
    mel_db = librosa.power_to_db(_MEL @ spec, ref=1.0, top_db=None)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC + 1)[1:]
    mv = mfcc[:, voiced]
    mfcc_vel = np.abs(np.diff(mfcc, axis=1))[:, adj].mean() if adj.any() else 0.0
    # --- timing: syllable nuclei = prominent voiced peaks of the energy envelope ----------
    env = np.convolve(energy_db, np.ones(5) / 5.0, mode="same")
    peaks, _ = find_peaks(env, prominence=3.0, distance=10)
    peaks = peaks[voiced[peaks]]
    syll_rate = peaks.size / speech_s if speech_s > 0 else 0.0
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], voiced.astype(np.int8), [0])))))[::2]
    voiced_run = float(runs.mean()) * HOP / SAMPLE_RATE if runs.size else 0.0

    vec = np.array(
        [
            st.mean(), st.std(), p10, p50, p90, p90 - p10, _stats_slope(t[voiced], st), f0_vel,
            hnr.mean(), hnr.std(),
            ev.mean(), ev.std(), np.percentile(es, 90) - np.percentile(es, 10),
            float(e_vel.mean()) if e_vel.size else 0.0, np.percentile(ev, 95) - ev.mean(),
            centroid.mean() / 1000.0, centroid.std() / 1000.0, bandwidth.mean() / 1000.0,
            rolloff.mean() / 1000.0, np.log(flatness.mean() + 1e-9),
            alpha.mean(), alpha.std(), flux.mean(),
            *mv.mean(axis=1), *mv.std(axis=1),
            mfcc_vel,
            nv / max(int(speech.sum()), 1), syll_rate, voiced_run,
        ],
        dtype=np.float64,
    )  # fmt: skip
    vec = np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    return WindowFeatures(vec, duration, voiced_s, speech_s, float(syll_rate), float(ev.mean()), float(st.std()))


def window_bounds(n_samples: int, sample_rate: int, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> list[tuple[int, int]]:
    """Sample ranges of the analysis windows of a finished recording (see WINDOW_S)."""
    hop = int(round(hop_s * sample_rate))
    win = int(round(window_s * sample_rate))
    ends = list(range(hop, n_samples + 1, hop))
    last = ends[-1] if ends else 0
    if n_samples - last >= hop // 2:
        ends.append(n_samples)
    return [(max(0, e - win), e) for e in ends]


def telephone(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Degrade audio to a telephone channel: 8 kHz, 300-3400 Hz band-pass, G.711 µ-law round trip.

    Used for training augmentation and for the telephone-band evaluation, through the very
    G.711 codec the live path decodes with (models.g711).
    """
    y = np.asarray(samples, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        y = soxr.resample(y, sample_rate, SAMPLE_RATE, quality="HQ")
    y = sosfilt(_TEL_SOS, y)
    pcm = (np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)
    out = mulaw_to_pcm16(pcm16_to_mulaw(pcm)).astype(np.float32) / 32768.0
    return out, SAMPLE_RATE


# A different filter (order, edges) from the feature front end, so the telephone copies are
# not shaped exactly like the canonicalisation (real channels are not either).
_TEL_SOS = butter(6, (300.0, 3400.0), btype="bandpass", fs=SAMPLE_RATE, output="sos")
