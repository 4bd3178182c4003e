"""Bursty bit errors: the two-state Gilbert-Elliott channel.

A Markov chain over the bits of the frame with a good state G and a bad state B. After
each bit it moves G -> B with probability P_GB and B -> G with probability P_BG; a bit sent
in G is flipped with probability E_GOOD (default 0), in B with E_BAD (default 0.5: a bad
burst carries no information). Bursts last 1 / P_BG bits on average, the channel spends
pi_B = P_GB / (P_GB + P_BG) of the time in B, and the mean bit error rate is
pi_B * E_BAD + (1 - pi_B) * E_GOOD. Each frame starts in a state drawn from that
stationary distribution (the link seeds frames independently: bursts do not span frames).
"""

from __future__ import annotations

import numpy as np

from sbn.errors import ConfigError
from sbn.wire.channel import Channel, arity, flip_bits, probability

#: state sojourns drawn at a time; the loop below runs about bits * P_GB / BATCH times
BATCH = 256


class GilbertElliott(Channel):
    name = "ge"
    usage = (
        "ge:P_GB:P_BG[:E_GOOD[:E_BAD]] (good->bad and bad->good transition probabilities "
        "per bit; flip probabilities in each state, default 0 and 0.5)"
    )
    measure = "bit error rate"

    def __init__(self, spec: str, p_gb: float, p_bg: float, e_good: float = 0.0, e_bad: float = 0.5) -> None:
        super().__init__(spec)
        self.p_gb, self.p_bg, self.e_good, self.e_bad = p_gb, p_bg, e_good, e_bad

    @classmethod
    def from_args(cls, spec: str, args: list[str]) -> GilbertElliott:
        arity(cls, spec, args, 2, 4)
        names = ("P_GB", "P_BG", "E_GOOD", "E_BAD")
        values = [probability(spec, text, name) for text, name in zip(args, names)]
        if values[1] == 0 and values[0] > 0:
            raise ConfigError(f"channel {spec!r}: P_BG = 0 never leaves the bad state; give P_BG > 0")
        return cls(spec, *values)

    @property
    def bad_share(self) -> float:
        """pi_B: the long-run share of bits sent in the bad state."""
        total = self.p_gb + self.p_bg
        return 0.0 if total == 0 else self.p_gb / total

    @property
    def error_rate(self) -> float:
        return self.bad_share * self.e_bad + (1 - self.bad_share) * self.e_good

    def bad_bits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Which of ``n`` bits are sent in the bad state (bool array)."""
        bad = np.zeros(n, dtype=bool)
        state_bad = bool(rng.random() < self.bad_share)
        pos = 0
        while pos < n:
            # alternate sojourns, starting in the current state; a zero exit probability
            # means the state lasts the rest of the frame
            leave = (self.p_bg, self.p_gb) if state_bad else (self.p_gb, self.p_bg)
            runs = np.stack([_sojourns(leave[0], n, rng), _sojourns(leave[1], n, rng)], axis=1).ravel()
            edges = pos + np.concatenate([[0], np.cumsum(runs)])
            for first, last in zip(edges[(0 if state_bad else 1) :: 2], edges[(1 if state_bad else 2) :: 2]):
                if first >= n:
                    break
                bad[first : min(last, n)] = True
            pos = int(edges[-1])
        return bad

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        n = 8 * len(data)
        if self.error_rate == 0.0:  # never in the bad state, or no flips in either
            return data
        flip_p = np.where(self.bad_bits(n, rng), self.e_bad, self.e_good)
        return flip_bits(data, rng.random(n) < flip_p)


def _sojourns(leave: float, n: int, rng: np.random.Generator) -> np.ndarray:
    if leave == 0.0:
        return np.full(BATCH, n, dtype=np.int64)
    return rng.geometric(leave, size=BATCH).astype(np.int64)
