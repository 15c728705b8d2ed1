"""Samples of generated magnetograms: Monte Carlo dropout and ensembles of trained models.

The seed's U-Net carries dropout (rate 0.5) in its first decoder blocks, and the original
code kept it active at test time, so repeated passes differ. Here a sample is one pass of
one generator over the input::

    mc_dropout            one model, dropout active at inference: N passes, N masks;
    ensemble              M models (independent training runs, e.g. seeds), dropout
                              off: their deterministic outputs, each N / M times (N
                              must be a multiple of M);
    ensemble+mc_dropout   M models, dropout active: sample i from model i mod M;
    deterministic         one model, dropout off: N identical samples, zero spread
                              (a control: the uncertainty is exactly 0).

Batch normalisation keeps each model's inference setting (moving statistics, or per-image
statistics for ``model.stochastic_inference`` runs), so an image's samples do not depend on
the other images of its batch. The dropout masks are drawn from the layers' seed states,
which :func:`draw_samples` sets from ``seed`` first: the same seed, inputs and batch size
give the same samples. Samples are in the networks' normalised units, (N, batch, H, W, 1);
:mod:`solarmaggan.uncertainty` turns them into a mean, a standard deviation and
calibration figures.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from solarmaggan.models.layers import has_dropout, seed_dropout, set_stochastic_inference

METHODS = ("mc_dropout", "ensemble", "ensemble+mc_dropout", "deterministic")


def sampling_method(generators: Sequence[Any], dropout: bool | None = None) -> str:
    """The method (:data:`METHODS`) for ``generators`` with dropout ``dropout`` (default: on
    when every generator has dropout layers).

    Raises:
        ValueError: dropout asked of a model without it.
    """
    with_dropout = [has_dropout(generator) for generator in generators]
    if dropout is None:
        dropout = all(with_dropout)
    if dropout and not all(with_dropout):
        raise ValueError("dropout sampling needs models with dropout layers (model.dropout_rate "
                         "> 0); give several models (an ensemble) instead")
    if len(generators) == 1:
        return "mc_dropout" if dropout else "deterministic"
    return "ensemble+mc_dropout" if dropout else "ensemble"


def check_samples(n_samples: Any, n_models: int = 1, method: str | None = None) -> int:
    """``n_samples`` as an int >= 2, or ValueError saying why not (an ensemble without
    dropout draws the same number of samples from each model)."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise ValueError(f"--samples must be an integer >= 2, got {n_samples!r}")
    if n_samples < 2:
        raise ValueError(f"--samples must be an integer >= 2, got {n_samples}")
    if method == "ensemble" and n_samples % n_models:
        raise ValueError(f"an ensemble without dropout repeats each model's one magnetogram: "
                         f"--samples must be a multiple of {n_models} for {n_models} models, "
                         f"got {n_samples}")
    return int(n_samples)


def draw_samples(generators: Sequence[Any], euv: np.ndarray, n_samples: int, *,
                 dropout: bool | None = None, seed: int = 0,
                 stochastic_inference: Sequence[bool] | None = None) -> np.ndarray:
    """``n_samples`` generated magnetograms of each image of the batch ``euv``.

    Args:
        generators: one or more generators (Keras models) of the same configuration.
        euv: (batch, H, W, C) float32, the networks' normalised input.
        n_samples: samples an image; with ``ensemble`` a multiple of ``len(generators)``.
        dropout: dropout active at inference (default: when every model has it).
        seed: the dropout masks' seed (model m uses ``seed`` + m).
        stochastic_inference: each model's ``model.stochastic_inference`` (its batch
            normalisation at inference; default False), restored afterwards.

    Returns:
        (n_samples, batch, H, W, 1) float32 in the networks' normalised units.
    """
    method = sampling_method(generators, dropout)
    n_samples = check_samples(n_samples, len(generators), method)
    use_dropout = method in ("mc_dropout", "ensemble+mc_dropout")
    modes = list(stochastic_inference or [False] * len(generators))
    samples = np.empty((n_samples, *euv.shape[:3], 1), np.float32)
    for number, generator in enumerate(generators):
        indices = range(number, n_samples, len(generators))
        set_stochastic_inference(generator, modes[number], dropout=use_dropout)
        try:
            seed_dropout(generator, seed + number)
            output = None
            for index in indices:
                if use_dropout or output is None:  # without dropout one pass is every sample
                    output = np.asarray(generator(euv, training=False), np.float32)
                samples[index] = output
        finally:
            set_stochastic_inference(generator, modes[number])
    return samples
