"""AudioInput: recordings as spectrogram images, against scipy.signal.stft and a numpy mel filterbank.

usage: test_audio_input.py LAMINAR_EXE

Recordings are written with scipy.io.wavfile (16-bit PCM, float32, one stereo file with mixdown) and as an
HDF5 array; the layer's recorded activity is compared, presentation by presentation, with an independent
spectrogram: the waveform padded/cropped as documented, scipy.signal.stft (boundary=None, padded=False,
times the window's sum to undo scipy's scaling) for |X_t[k]|, |X|^power, the mel filterbank written here
from the HTK formula (librosa.filters.mel(htk=True, norm=None)), ln(log_offset + S), then the normalisation.
Tolerance 1e-5 of each image's largest value. Cases:
  - folder, mel, log, centre align (one recording shorter than the window span, one exactly as long, one
    longer), in order, batch 2, two epochs (the wrap);
  - folder, stft bins in [fmin, fmax], power 2, Hamming, start align, standardize, no log;
  - HDF5 waveforms (sample_rate attribute), shuffled: items are a permutation per epoch, each spectrogram
    that of its item;
  - follow: an ImageInput whose labels CSV names each image's recording (one cell empty); the recorded items
    equal the images', each spectrogram is that of the named file, the empty cell gives a zero image and a
    masked Error that is zero for that batch element;
  - the recorded spectrograms are bit-identical in a second run.
"""
import os
import sys
import tempfile

import h5py
import numpy as np
import scipy.io.wavfile as wavfile
import scipy.signal as signal

import systest as st

SR = 8000


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def mel_matrix(sr, n_fft, bands, fmin, fmax):
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), bands + 2))
    M = np.zeros((bands, len(freqs)))
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        M[b] = np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return M


def fit(wave, samples, align):
    x = np.zeros(samples)
    L = len(wave)
    if L <= samples:
        o = (samples - L) // 2 if align == "center" else 0
        x[o:o + L] = wave
    else:
        o = (L - samples) // 2 if align == "center" else 0
        x[:] = wave[o:o + samples]
    return x


def reference(wave, cfg):
    """The documented spectrogram, ny x nx, row 0 the highest frequency."""
    win, hop, frames = cfg["window"], cfg["hop"], cfg["frames"]
    n_fft = cfg.get("n_fft", win)
    x = fit(np.asarray(wave, np.float64), win + (frames - 1) * hop, cfg.get("align", "center"))
    wname = {"hann": "hann", "hamming": "hamming", "rectangular": "boxcar"}[cfg.get("window_function", "hann")]
    w = signal.get_window(wname, win)  # periodic (fftbins=True)
    _, _, Z = signal.stft(x, fs=SR, window=w, nperseg=win, noverlap=win - hop, nfft=n_fft, boundary=None,
                          padded=False, detrend=False, return_onesided=True)
    assert Z.shape[1] == frames, Z.shape
    S = np.abs(Z * w.sum()) ** cfg.get("power", 1.0)        # scipy divides by sum(w)
    fmin, fmax = cfg.get("fmin", 0.0), cfg.get("fmax", SR / 2)
    if cfg.get("spectrogram", "mel") == "mel":
        S = mel_matrix(SR, n_fft, cfg["bands"], fmin, fmax) @ S
    else:
        k = np.arange(n_fft // 2 + 1) * SR / n_fft
        S = S[(k >= fmin - 1e-9) & (k <= fmax + 1e-9)]
    if cfg.get("compression", "log") == "log":
        S = np.log(cfg.get("log_offset", 1e-3) + S)
    norm = cfg.get("normalize", "none")
    if norm in ("zero_mean", "standardize"):
        S = S - S.mean()
    if norm == "standardize":
        S = S / S.std()
    if norm == "unit_norm":
        S = S / np.sqrt((S ** 2).sum())
    return S[::-1] * cfg.get("scale", 1.0)


def chirp(n, f0, f1, amp, seed):
    t = np.arange(n) / SR
    rng = np.random.default_rng(seed)
    return amp * signal.chirp(t, f0, t[-1], f1) * np.hanning(n) + 0.01 * rng.standard_normal(n)


def audio_layer(path, cfg, **extra):
    d = {"type": "AudioInput", "path": path}
    d.update({k: v for k, v in cfg.items() if k not in ("scale_only",)})
    d.update(extra)
    return d


def recorder(layer, period):
    return {"type": "ActivityRecorder", "layer": layer, "period": period}


def main():
    exe = sys.argv[1]
    chk = st.Checker()
    tmp = tempfile.mkdtemp(prefix="laminar-audio-")
    folder = os.path.join(tmp, "wav")
    os.makedirs(folder)
    waves = {}
    # 16-bit PCM: libsndfile maps to [-1, 1) by / 32768, as the reference does
    lengths = [700, 1088, 2400, 1500, 900]
    for i, n in enumerate(lengths):
        w = chirp(n, 200 + 150 * i, 3000 - 300 * i, 0.5, i)
        pcm = np.clip(np.round(w * 32767), -32768, 32767).astype(np.int16)
        name = f"utt{i}.wav"
        wavfile.write(os.path.join(folder, name), SR, pcm)
        waves[name] = pcm.astype(np.float64) / 32768.0
    w = chirp(1200, 500, 1500, 0.3, 9).astype(np.float32)  # float32 WAV
    wavfile.write(os.path.join(folder, "utt5.wav"), SR, w)
    waves["utt5.wav"] = w.astype(np.float64)
    names = sorted(waves)

    # --- 1. folder, mel + log, centre, in order, batch 2, wraps into a second epoch
    mel = dict(spectrogram="mel", bands=16, frames=12, window=128, hop=64, n_fft=256, fmin=60.0, fmax=3800.0,
               compression="log", log_offset=1e-3)
    # --- 2. stft, power 2, Hamming, start, standardize, no log (frames x hop such that some files are cropped)
    stft = dict(spectrogram="stft", frames=10, window=200, hop=100, n_fft=256, fmin=300.0, fmax=2000.0, power=2.0,
                window_function="hamming", align="start", compression="none", normalize="standardize", scale=0.5)
    P = 2
    steps = P * 5  # 5 presentations x batch 2 = 10 items of 6: wraps
    p = st.params_skeleton(steps, 2, P, os.path.join(tmp, "out1"))
    p["layers"]["Mel"] = audio_layer(folder, mel)
    p["layers"]["Lin"] = audio_layer(folder, stft, sample_rate=SR)
    p["probes"]["RecMel"] = recorder("Mel", P)
    p["probes"]["RecLin"] = recorder("Lin", P)
    run, _ = st.run_laminar(exe, p, tmp, "folder")
    for rec, cfg in (("RecMel", mel), ("RecLin", stft)):
        a = run.activity(rec)[..., 0]        # (samples, batch, ny, nx)
        with h5py.File(run.file, "r") as f:
            items = f[f"probes/{rec}/item"][()]
        want_items = (np.arange(a.shape[0] * 2) % len(names)).reshape(a.shape[0], 2)
        chk.close(f"{rec}: items in order, wrapping", items.reshape(want_items.shape), want_items, rtol=0)
        for s in range(a.shape[0]):
            for b in range(2):
                ref = reference(waves[names[want_items[s, b]]], cfg)
                chk.close(f"{rec} sample {s} batch {b} ({names[want_items[s, b]]})", a[s, b], ref, rtol=1e-5)

    # --- 3. HDF5 waveforms, shuffled
    h5 = os.path.join(tmp, "waves.h5")
    arr = np.stack([chirp(1000, 300 + 200 * i, 2500, 0.4, 20 + i) for i in range(5)]).astype(np.float32)
    with h5py.File(h5, "w") as f:
        d = f.create_dataset("speech", data=arr)
        d.attrs["sample_rate"] = SR
    cfg3 = dict(mel, frames=14)
    p = st.params_skeleton(3 * 5, 1, 3, os.path.join(tmp, "out3"))
    p["layers"]["Wave"] = audio_layer(h5, cfg3, dataset="speech", shuffle=True)
    p["probes"]["Rec"] = recorder("Wave", 3)
    run, _ = st.run_laminar(exe, p, tmp, "hdf5")
    a = run.activity("Rec")[..., 0][:, 0]
    with h5py.File(run.file, "r") as f:
        items = f["probes/Rec/item"][()].reshape(-1)
    chk.close("hdf5 shuffled: the 5 items of an epoch are a permutation", np.sort(items[:5]), np.arange(5), rtol=0)
    chk.true("hdf5 shuffled: not in order", not np.array_equal(items[:5], np.arange(5)))
    for s, it in enumerate(items):
        chk.close(f"hdf5 sample {s} (waveform {it})", a[s], reference(arr[it], cfg3), rtol=1e-5)

    # --- 4. follow: an ImageInput's labels CSV names the recording of each image
    imgs = np.random.default_rng(5).random((4, 6, 6)).astype(np.float32)
    ih5 = os.path.join(tmp, "images.h5")
    with h5py.File(ih5, "w") as f:
        f["images"] = imgs
    pairing = {"0": "utt3.wav", "1": "", "2": "utt0.wav", "3": "utt5.wav"}
    csv = os.path.join(tmp, "pairs.csv")
    with open(csv, "w") as f:
        f.write("file,label,audio\n")
        for k, v in pairing.items():
            f.write(f"{k},{k},{v}\n")
    # stereo file read with mixdown: both channels averaged
    stereo = os.path.join(tmp, "stereo")
    os.makedirs(stereo)
    left, right = chirp(1000, 400, 900, 0.5, 30), chirp(1000, 1200, 2000, 0.5, 31)
    wavfile.write(os.path.join(stereo, "st.wav"), SR, np.stack([left, right], 1).astype(np.float32))
    P = 2
    p = st.params_skeleton(P * 4, 2, P, os.path.join(tmp, "out4"))
    p["layers"]["Image"] = {"type": "ImageInput", "path": ih5, "labels": csv, "shuffle": True}
    p["layers"]["Speech"] = audio_layer(folder, mel, follow="Image")
    p["layers"]["SpeechError"] = {"type": "Error", "mask": "Speech"}
    p["layers"]["Stereo"] = audio_layer(stereo, mel, mixdown=True)
    p["connections"]["SpeechToError"] = {"type": "Identity", "pre": "Speech", "post": "SpeechError"}
    for layer in ("Image", "Speech", "SpeechError", "Stereo"):
        p["probes"][f"Rec{layer}"] = recorder(layer, P)
    run, _ = st.run_laminar(exe, p, tmp, "follow")
    with h5py.File(run.file, "r") as f:
        img_items = f["probes/RecImage/item"][()]
        sp_items = f["probes/RecSpeech/item"][()]
    chk.close("follow: the AudioInput's items are the ImageInput's", sp_items, img_items, rtol=0)
    sp = run.activity("RecSpeech")[..., 0]
    err = run.activity("RecSpeechError")[..., 0]
    absent_seen = 0
    for s in range(sp.shape[0]):
        for b in range(2):
            it = str(int(img_items.reshape(sp.shape[0], 2)[s, b]))
            if pairing[it]:
                chk.close(f"follow sample {s} batch {b}: image {it} -> {pairing[it]}", sp[s, b],
                          reference(waves[pairing[it]], mel), rtol=1e-5)
                chk.true(f"follow sample {s} batch {b}: masked error present", np.abs(err[s, b]).max() > 0)
            else:
                absent_seen += 1
                chk.close(f"follow sample {s} batch {b}: image {it} names no recording -> zero image", sp[s, b],
                          np.zeros_like(sp[s, b]), rtol=0)
                chk.close(f"follow sample {s} batch {b}: masked error zero", err[s, b], np.zeros_like(err[s, b]), rtol=0)
    chk.true("follow: the image without a recording was shown", absent_seen > 0)
    st_rec = run.activity("RecStereo")[0, 0, ..., 0]
    chk.close("mixdown: the stereo file is the mean of its channels", st_rec,
              reference((left.astype(np.float32).astype(np.float64) + right.astype(np.float32)) / 2, mel), rtol=1e-5)

    # --- 5. deterministic
    p["simulation"]["output"] = os.path.join(tmp, "out4b")
    run2, _ = st.run_laminar(exe, p, tmp, "follow2")
    chk.close("a second run: bit-identical spectrograms", run2.activity("RecSpeech"), run.activity("RecSpeech"), rtol=0)
    sys.exit(chk.exit())


if __name__ == "__main__":
    main()
