"""Sample autocovariance and autocorrelation of a time series."""
import numpy as np


def acovf(x, adjusted=False, demean=True, fft=False, nlag=None):
    """Autocovariances of x at lags 0..nlag (all lags when nlag is None).

    adjusted divides lag k by n - k instead of n.
    """
    xo = np.asarray(x, dtype=float).squeeze()
    if xo.ndim != 1:
        raise ValueError("x must be 1-d")
    n = len(xo)
    if demean:
        xo = xo - xo.mean()
    lag_len = n - 1 if nlag is None else nlag
    if nlag is not None and nlag > n - 1:
        raise ValueError("nlag must be smaller than nobs - 1")
    if not fft and nlag is not None:
        acov = np.empty(lag_len + 1)
        acov[0] = xo.dot(xo)
        for i in range(lag_len):
            acov[i + 1] = xo[i + 1 :].dot(xo[: -(i + 1)])
        if adjusted:
            acov /= n - np.arange(lag_len + 1)
        else:
            acov /= n
        return acov
    if adjusted:
        xi = np.arange(1, n + 1)
        d = np.hstack((xi, xi[:-1][::-1]))
    else:
        d = n * np.ones(2 * n - 1)
    if fft:
        nfft = 1 << (2 * n).bit_length()
        frf = np.fft.fft(xo, n=nfft)
        acov = np.fft.ifft(frf * np.conjugate(frf))[:n] / d[n - 1 :]
        acov = acov.real
    else:
        acov = np.correlate(xo, xo, "full")[n - 1 :] / d[n - 1 :]
    return acov[: lag_len + 1].copy()


def acf(x, nlags=None, adjusted=False):
    avf = acovf(x, adjusted=adjusted, demean=True, nlag=nlags)
    return avf / avf[0]
