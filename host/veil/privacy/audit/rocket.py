"""A sequence model for the discriminative attack: random dilated convolutions over the raw
window (MiniRocket's kernels: length 9, weights -1 and three 2s; features are the proportion of
positive values after a bias), then a ridge classifier. It sees the order of readings, which
window statistics summarise away."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

_TAPS = list(combinations(range(9), 3))  # the 84 MiniRocket kernels


class Rocket:
    def __init__(self, length: int, seed: int = 0):
        self.length = length
        top = max(0, int(np.log2(max(1, (length - 1) / 8))))
        self.dilations = sorted({int(2**e) for e in np.linspace(0, top, 4)})
        self.rng = np.random.default_rng(seed)
        self.biases: list[np.ndarray] = []
        self.model = make_pipeline(
            StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
        )

    def _convolve(self, x: np.ndarray):
        """Yield (N, C, L) outputs of every kernel on x: (N, C, length)."""
        for d in self.dilations:
            span = 8 * d
            if span >= x.shape[-1]:
                continue
            taps = np.stack([x[..., j * d : x.shape[-1] - span + j * d] for j in range(9)])
            total = taps.sum(axis=0)
            for a, b, c in _TAPS:
                yield 3 * (taps[a] + taps[b] + taps[c]) - total

    def _features(self, x: np.ndarray, fit: bool) -> np.ndarray:
        feats = []
        for n, out in enumerate(self._convolve(x)):
            if fit:
                pick = out[self.rng.integers(len(out))]
                self.biases.append(np.quantile(pick, [0.25, 0.5, 0.75], axis=-1))
            bias = self.biases[n]  # (3, C)
            ppv = (out[:, None, :, :] > bias[None, :, :, None]).mean(axis=-1)
            feats.append(ppv.reshape(len(x), -1))
        return np.concatenate(feats, axis=1)

    def fit(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> Rocket:
        self.model.fit(self._features(x, fit=True), y, ridgeclassifiercv__sample_weight=weight)
        return self

    def decision(self, x: np.ndarray) -> np.ndarray:
        return self.model.decision_function(self._features(x, fit=False))
