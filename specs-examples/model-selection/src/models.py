"""Three small classifiers in pure Python (no NumPy), and the data they learn from.

The data: two noisy interleaved classes in the plane, generated from a seed, so every run is
reproducible and the example needs nothing installed.
"""

from __future__ import annotations

import math
import random

Point = tuple[float, float]


def make_data(n: int, seed: int) -> list[tuple[Point, int]]:
    """Two classes on concentric rings with noise: linear models struggle, local ones do better."""
    rng = random.Random(seed)
    data = []
    for i in range(n):
        label = i % 2
        radius = (1.0 if label else 2.0) + rng.gauss(0, 0.35)
        angle = rng.uniform(0, 2 * math.pi)
        data.append(((radius * math.cos(angle), radius * math.sin(angle)), label))
    rng.shuffle(data)
    return data


def auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        rank_sum += average_rank * sum(label for _, label in ranked[index:end + 1])
        index = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


class LogReg:
    """Logistic regression on (x, y, x*y), trained by stochastic gradient descent."""

    def __init__(self, epochs: int = 30, rate: float = 0.05) -> None:
        self.epochs, self.rate, self.w = epochs, rate, [0.0, 0.0, 0.0, 0.0]

    def _features(self, p: Point) -> list[float]:
        return [1.0, p[0], p[1], p[0] * p[1]]

    def fit(self, data: list[tuple[Point, int]]) -> LogReg:
        for _ in range(self.epochs):
            for point, label in data:
                f = self._features(point)
                z = sum(w * x for w, x in zip(self.w, f, strict=True))
                error = 1 / (1 + math.exp(-max(-30.0, min(30.0, z)))) - label
                self.w = [w - self.rate * error * x for w, x in zip(self.w, f, strict=True)]
        return self

    def score(self, p: Point) -> float:
        return sum(w * x for w, x in zip(self.w, self._features(p), strict=True))


class Knn:
    """k nearest neighbours: the share of positives among the k closest training points."""

    def __init__(self, k: int = 15) -> None:
        self.k, self.data = k, []

    def fit(self, data: list[tuple[Point, int]]) -> Knn:
        self.data = data
        return self

    def score(self, p: Point) -> float:
        nearest = sorted(self.data, key=lambda item: (item[0][0] - p[0]) ** 2 + (item[0][1] - p[1]) ** 2)
        return sum(label for _, label in nearest[: self.k]) / self.k


class Forest:
    """Bagged depth-1 trees on the distance from the origin and the two coordinates."""

    def __init__(self, trees: int = 25, seed: int = 0) -> None:
        self.trees, self.rng, self.stumps = trees, random.Random(seed), []

    @staticmethod
    def _feature(p: Point, index: int) -> float:
        return (p[0], p[1], math.hypot(*p))[index]

    def fit(self, data: list[tuple[Point, int]]) -> Forest:
        for _ in range(self.trees):
            sample = [self.rng.choice(data) for _ in data]
            index = self.rng.randrange(3)
            values = sorted({round(self._feature(p, index), 2) for p, _ in sample})
            best = max(values, key=lambda t: abs(sum(1 if (self._feature(p, index) > t) == bool(y) else -1
                                                    for p, y in sample)))
            above = sum(y for p, y in sample if self._feature(p, index) > best)
            count = sum(1 for p, _ in sample if self._feature(p, index) > best) or 1
            self.stumps.append((index, best, above / count, (sum(y for _, y in sample) - above) /
                                (len(sample) - count or 1)))
        return self

    def score(self, p: Point) -> float:
        return sum(hi if self._feature(p, i) > t else lo for i, t, hi, lo in self.stumps) / len(self.stumps)


MODELS = {"logreg": LogReg, "knn": Knn, "forest": Forest}
