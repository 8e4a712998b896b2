"""`Audio` (W&B's `wandb.Audio`): arrays written as 16-bit PCM WAV with the standard library, audio files copied."""

from __future__ import annotations

import io
import os
import sys
import wave
from typing import Any

from ._base import BatchableMedia, _describe, _StoredFile, _torch_to_numpy, _warn_once


def _pcm16(np: Any, arr: Any) -> Any:
    """int16 samples from what soundfile accepts: floats in [-1, 1] (clipped), or integers scaled from their
    width (int16 as they are, int32 by their top 16 bits, 8-bit by 256); int64 is taken as int16 values."""
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind == "b":
        return arr.astype(np.int16) * 32767
    if kind == "f":
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
        if arr.size and (arr.min() < -1 or arr.max() > 1):
            _warn_once("audio-clip", "runhive.Audio: float samples outside [-1, 1] are clipped.")
        return np.round(np.clip(arr, -1.0, 1.0) * 32767).astype(np.int16)
    if kind == "u":
        if size == 1:
            return ((arr.astype(np.int32) - 128) << 8).astype(np.int16)
        arr = arr.astype(np.int64) - (1 << (8 * size - 1))
        kind = "i"
    if kind == "i":
        if size == 1:
            return arr.astype(np.int16) << 8
        if size == 2:
            return arr.astype(np.int16)
        if size == 4:
            return (arr.astype(np.int64) >> 16).astype(np.int16)
        if arr.size and (arr.min() < -32768 or arr.max() > 32767):
            _warn_once("audio-int", "runhive.Audio: int64 samples outside the int16 range are clipped.")
        return np.clip(arr, -32768, 32767).astype(np.int16)
    raise TypeError(f"runhive.Audio: data_or_path must hold numbers, got an array of dtype {arr.dtype}.")


def encode_wav(np: Any, samples: Any, sample_rate: int) -> bytes:
    """A 16-bit PCM WAV file from samples (frames, or frames x channels, as soundfile takes them)."""
    pcm = _pcm16(np, samples)
    if pcm.ndim == 1:
        pcm = pcm[:, None]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(int(pcm.shape[1]))
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return buf.getvalue()


class Audio(BatchableMedia):
    """An audio clip (W&B's `wandb.Audio`): a numpy array (samples, or samples x channels) with `sample_rate`,
    stored as 16-bit PCM WAV; or the path of an audio file, copied as it is."""

    _log_type = "audio-file"
    _file: _StoredFile

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self._caption = caption
        self._sample_rate = sample_rate
        self._duration: float | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            if not os.path.isfile(path):
                what = "is a directory" if os.path.isdir(path) else "does not exist"
                raise ValueError(
                    f"runhive.Audio: data_or_path={path!r} {what}; pass the path of an audio file or the samples "
                    "as a numpy array with sample_rate."
                )
            ext = os.path.splitext(path)[1][1:].lower() or "audio"
            self._file = _StoredFile.from_path(path, "audio", ext)
            if ext == "wav":
                self._read_wav_header(path)
            return
        if sample_rate is None:
            raise ValueError(
                'Argument "sample_rate" is required when instantiating wandb.Audio with raw data.'
            )
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 0 < sample_rate < 1 << 31:
            raise ValueError(f"runhive.Audio: sample_rate must be a positive int, got {sample_rate!r}.")
        np = sys.modules.get("numpy")
        if np is None and isinstance(data_or_path, (list, tuple)):
            try:  # samples as a list, as soundfile takes them: numpy encodes them
                import numpy as np
            except ImportError:
                np = None
        arr = _torch_to_numpy(data_or_path)
        if arr is None and np is not None and isinstance(data_or_path, (list, tuple, np.ndarray)):
            arr = np.asarray(data_or_path)
        if arr is None or np is None:
            raise TypeError(
                f"runhive.Audio: data_or_path must be a numpy array of samples or the path of an audio file; got "
                f"{_describe(data_or_path)}."
            )
        if arr.ndim not in (1, 2) or arr.shape[0] == 0 or (arr.ndim == 2 and not 0 < arr.shape[1] <= 64):
            raise ValueError(
                "runhive.Audio: data_or_path must be samples (1-D) or samples x channels (2-D, up to 64 channels); "
                f"got a {_describe(arr)}."
            )
        self._duration = len(arr) / float(sample_rate)
        self._file = _StoredFile.from_bytes(encode_wav(np, arr, sample_rate), "audio", "wav")

    def _read_wav_header(self, path: str) -> None:
        try:
            with wave.open(path, "rb") as w:
                rate, frames = w.getframerate(), w.getnframes()
        except (wave.Error, EOFError, OSError):
            return  # a WAV that the wave module cannot read (float samples, say) is copied all the same
        if self._sample_rate is None:
            self._sample_rate = rate
        if rate:
            self._duration = frames / float(rate)

    @property
    def path(self) -> str:
        return self._file.path

    @property
    def sample_rate(self) -> int | None:
        return self._sample_rate

    @property
    def duration(self) -> float | None:
        return self._duration

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._caption is not None:
            out["caption"] = self._caption
        out.update({"_type": self._log_type, **self._file.json()})
        return out

    @classmethod
    def durations(cls, audio_list: list[Audio]) -> list[float | None]:
        return [a._duration for a in audio_list]

    @classmethod
    def sample_rates(cls, audio_list: list[Audio]) -> list[int | None]:
        return [a._sample_rate for a in audio_list]

    @classmethod
    def captions(cls, audio_list: list[Audio]) -> list[str] | bool:
        captions = [a._caption for a in audio_list]
        return False if all(c is None for c in captions) else ["" if c is None else c for c in captions]

    def __repr__(self) -> str:
        return f"<runhive Audio {self._file.path}>"
