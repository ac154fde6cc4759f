"""Customer lifetime value: BG/NBD purchases x Gamma-Gamma spend, fitted by maximum likelihood.

Pure numpy/scipy (no Dagster, no DataFrames), so the maths is testable on its own; the
last section reads the customer-summary CSV of `crm-warehouse clv-fit`.

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while
  alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each *repeat*
  purchase they drop out with probability p ~ Beta(a, b).
* **Gamma-Gamma** (Fader & Hardie, "The Gamma-Gamma model of monetary value", 2013): the
  spend of one purchase ~ Gamma(p, nu) with nu ~ Gamma(q, v), independent of the purchase
  process; fitted on customers with repeat purchases, on the mean spend of those repeats.

Conventions (the literature's): ``frequency`` x = repeat purchases (distinct purchase
days - 1), ``recency`` t_x = time of the last purchase since the first, ``T`` = time since
the first purchase, all in ONE unit. The warehouse fits in **weeks** (days / 7): alpha is
then comparable with the published CDNOW estimates; r, a, b, p, q, v do not depend on the
unit, alpha scales with it. Every function here takes and returns that unit except
:func:`score_customers`, whose ``expected_days_to_next_order`` is in days.

Fitting: vectorised log-likelihoods in their stable forms (gammaln / betaln, log-sum-exp
for the BG/NBD's two terms), analytic gradients, L-BFGS-B on log-parameters. Identical
(x, t_x, T) rows are compressed into one weighted row and terms that depend only on x are
computed once per distinct x, so a million customers with day-granular dates fit in
seconds.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

# --- Declared once: the rules the warehouse applies --------------------------------------
# Data-sufficiency floor (Klaviyo's rule for predictive CLV): with fewer customers who
# bought more than once, or a shorter history, the dropout process is not identified and
# the fit is noise. Below it the predictive columns are null and the reason is recorded.
MIN_REPEAT_CUSTOMERS = 500
MIN_HISTORY_DAYS = 180
# churn_risk_band: low < CHURN_BAND_MEDIUM <= medium < CHURN_BAND_HIGH <= high.
CHURN_BAND_MEDIUM = 0.3
CHURN_BAND_HIGH = 0.7
# predicted_clv_12m: monthly steps over 12 months, discounted at this annual rate.
ANNUAL_DISCOUNT_RATE = 0.10
CLV_MONTHS = 12
# Horizons of the scored columns, in days.
CHURN_HORIZON_DAYS = 90
PURCHASES_HORIZON_WEEKS = 52.0

DAYS_PER_UNIT = 7.0  # the model unit is the week
WEEKS_PER_MONTH = 365.25 / 12 / 7

# Log-parameter box for L-BFGS-B: keeps exp() finite; a parameter at the box is a boundary
# solution (e.g. b -> inf: nobody drops out), reported as such by the fit's message.
_LOG_BOUNDS = (np.log(1e-6), np.log(1e6))
# A fit has converged when L-BFGS-B says so, or when it stopped (line search stalled on a
# flat ridge) where a Newton step on any free parameter is below this many standard errors.
_CONVERGED_SE = 0.01
# Shape parameters beyond this mean a ridge to infinity: e.g. a, b -> inf with a/(a+b)
# fixed is a dropout probability p without heterogeneity (seen on the generator's data).
_RIDGE = 1e4
# Expected purchases: eq. 10's closed form up to this a, quadrature beyond (see
# _purchases_if_alive); tanh-sinh rule with 2 * 26 + 1 nodes at step 1/8.
_CLOSED_FORM_MAX_A = 10.0
_TANH_SINH_STEP = 1 / 8
_TANH_SINH_NODES = 26

FloatArray = NDArray[np.float64]


# --- Parameters and fit results ---------------------------------------------------------
@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood fit: parameters, total log-likelihood, standard errors
    (observed information, delta method), and how the optimiser ended."""

    params: BgNbdParams | GammaGammaParams
    loglik: float
    std_errors: dict[str, float]
    customers: float  # total weight fitted
    distinct_rows: int  # rows after compression
    converged: bool
    message: str
    iterations: int
    seconds: float


# --- Input handling -----------------------------------------------------------------------
def _as_float(values: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: non-finite values")
    return arr


def _check_rfm(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> None:
    if not (len(frequency) == len(recency) == len(T)):
        raise ValueError("frequency, recency and T must have the same length")
    if np.any(frequency < 0) or np.any(frequency != np.round(frequency)):
        raise ValueError("frequency must be a non-negative integer (repeat purchases)")
    if np.any(recency < 0) or np.any(recency > T):
        raise ValueError("recency must satisfy 0 <= recency <= T")


def _unique_rows(columns: list[FloatArray]) -> tuple[list[FloatArray], NDArray[np.intp]]:
    """Distinct rows of equal-length columns and each input row's index among them
    (np.unique(axis=0) does the same five times slower)."""
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    starts = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        starts[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in ordered])
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return [c[starts] for c in ordered], inverse


def _compress(
    columns: list[FloatArray], weights: ArrayLike | None
) -> tuple[list[FloatArray], FloatArray]:
    """Distinct rows of ``columns`` and the total weight of each."""
    w = None if weights is None else _as_float(weights, "weights")
    if w is not None:
        if len(w) != len(columns[0]) or np.any(w < 0):
            raise ValueError("weights must be non-negative, one per row")
        keep = w > 0
        columns, w = [c[keep] for c in columns], w[keep]
    rows, inverse = _unique_rows(columns)
    totals = np.bincount(inverse, weights=w, minlength=len(rows[0])).astype(np.float64)
    return rows, totals


@dataclass(frozen=True)
class _Rows:
    """Compressed rows plus the index of each row's distinct x (x-only terms once per x)."""

    x: FloatArray
    cols: tuple[FloatArray, ...]
    w: FloatArray
    x_unique: FloatArray
    x_index: NDArray[np.intp]
    w_by_x: FloatArray

    @classmethod
    def build(cls, x: FloatArray, cols: tuple[FloatArray, ...], w: FloatArray) -> _Rows:
        x_unique, x_index = np.unique(x, return_inverse=True)
        w_by_x = np.bincount(x_index, weights=w, minlength=len(x_unique))
        return cls(x, cols, w, x_unique, x_index, w_by_x)


# --- BG/NBD log-likelihood ----------------------------------------------------------------
def _bgnbd_ll_grad(log_params: FloatArray, d: _Rows) -> tuple[float, FloatArray]:
    """Total weighted log-likelihood and its gradient with respect to the log-parameters.

    ln L_i = ln G(r+x) - ln G(r) + r ln alpha + ln(A1 + [x>0] A2), with
    ln A1 = B(a, b+x) - B(a, b) - (r+x) ln(alpha+T) and
    ln A2 = B(a+1, b+x-1) - B(a, b) - (r+x) ln(alpha+t_x)  (B = ln Beta), by log-sum-exp.
    With w2 = A2 / (A1 + A2) (0 when x = 0), the derivatives simplify to
    d/dr = psi(r+x) - psi(r) + ln alpha - w1 ln(alpha+T) - w2 ln(alpha+t_x),
    d/dalpha = r/alpha - (r+x) (w1/(alpha+T) + w2/(alpha+t_x)),
    d/da = psi(a+b) - psi(a+b+x) + w2/a,
    d/db = psi(a+b) - psi(b) - psi(a+b+x) + psi(b+x) - w2/(b+x-1).
    """
    r, alpha, a, b = np.exp(log_params)
    t_x, T = d.cols
    xu, xi, w = d.x_unique, d.x_index, d.w
    rep_u = xu > 0
    xm1_u = np.where(rep_u, xu - 1, 0.0)  # keeps betaln finite where x = 0 (masked below)

    beta_ab = special.betaln(a, b)
    ln_a1_u = special.betaln(a, b + xu) - beta_ab
    ln_a2_u = np.where(rep_u, special.betaln(a + 1, b + xm1_u) - beta_ab, -np.inf)
    const_u = special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)

    rx = r + d.x
    log_at, log_atx = np.log(alpha + T), np.log(alpha + t_x)
    ln_a1 = ln_a1_u[xi] - rx * log_at
    ln_a2 = ln_a2_u[xi] - rx * log_atx
    lse = np.logaddexp(ln_a1, ln_a2)
    loglik = float(d.w_by_x @ const_u + w @ lse)

    w1, w2 = np.exp(ln_a1 - lse), np.exp(ln_a2 - lse)
    psi_ab = special.digamma(a + b)
    psi_abx_u = special.digamma(a + b + xu)
    g_r = d.w_by_x @ (special.digamma(r + xu) - special.digamma(r) + np.log(alpha)) - w @ (
        w1 * log_at + w2 * log_atx
    )
    g_alpha = r * w.sum() / alpha - w @ (rx * (w1 / (alpha + T) + w2 / (alpha + t_x)))
    g_a = d.w_by_x @ (psi_ab - psi_abx_u) + (w @ w2) / a
    inv_bx1 = np.where(d.x > 0, 1.0 / np.where(d.x > 0, b + d.x - 1, 1.0), 0.0)
    g_b = d.w_by_x @ (psi_ab - special.digamma(b) - psi_abx_u + special.digamma(b + xu)) - w @ (
        w2 * inv_bx1
    )
    grad = np.array([g_r, g_alpha, g_a, g_b]) * np.array([r, alpha, a, b])
    return loglik, grad


def _bgnbd_rows(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None
) -> _Rows:
    x, t_x, big_t = (
        _as_float(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T"))
    )
    _check_rfm(x, t_x, big_t)
    (x, t_x, big_t), w = _compress([x, t_x, big_t], weights)
    return _Rows.build(x, (t_x, big_t), w)


def bgnbd_loglik(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> tuple[float, FloatArray]:
    """Total log-likelihood and its gradient with respect to (ln r, ln alpha, ln a, ln b)."""
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    return _bgnbd_ll_grad(log_params, _bgnbd_rows(frequency, recency, T, weights))


# --- Gamma-Gamma log-likelihood -----------------------------------------------------------
def _gg_ll_grad(log_params: FloatArray, d: _Rows) -> tuple[float, FloatArray]:
    """ln L_i = ln G(px+q) - ln G(px) - ln G(q) + q ln v + (px-1) ln m + px ln x
    - (px+q) ln(v + m x), the density of the mean spend m of x purchases."""
    p, q, v = np.exp(log_params)
    (m,) = d.cols
    xu, xi, w = d.x_unique, d.x_index, d.w
    pxu = p * xu
    const_u = (
        special.gammaln(pxu + q)
        - special.gammaln(pxu)
        - special.gammaln(q)
        + q * np.log(v)
        + pxu * np.log(xu)
    )
    px = pxu[xi]
    log_m, log_vmx = np.log(m), np.log(v + m * d.x)
    loglik = float(d.w_by_x @ const_u + w @ ((px - 1) * log_m - (px + q) * log_vmx))

    psi_pxq_u = special.digamma(pxu + q)
    g_p = d.w_by_x @ (xu * (psi_pxq_u - special.digamma(pxu))) + w @ (
        d.x * (np.log(m * d.x) - log_vmx)
    )
    g_q = d.w_by_x @ (psi_pxq_u - special.digamma(q) + np.log(v)) - w @ log_vmx
    g_v = q * w.sum() / v - w @ ((px + q) / (v + m * d.x))
    return loglik, np.array([g_p, g_q, g_v]) * np.array([p, q, v])


def _gg_rows(frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None) -> _Rows:
    x, m = _as_float(frequency, "frequency"), _as_float(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must have the same length")
    if np.any(x <= 0) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs frequency > 0 and monetary_value > 0 on every row")
    (x, m), w = _compress([x, m], weights)
    return _Rows.build(x, (m,), w)


def gamma_gamma_loglik(
    params: GammaGammaParams,
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    weights: ArrayLike | None = None,
) -> tuple[float, FloatArray]:
    """Total log-likelihood and its gradient with respect to (ln p, ln q, ln v)."""
    log_params = np.log([params.p, params.q, params.v])
    return _gg_ll_grad(log_params, _gg_rows(frequency, monetary_value, weights))


# --- Fitting --------------------------------------------------------------------------------
def _maximise(
    ll_grad, starts: list[FloatArray], d: _Rows, names: tuple[str, ...], started: float
) -> FitResult:
    """L-BFGS-B on the mean negative log-likelihood from the best of a few starts."""
    n = float(d.w.sum())

    def objective(z: FloatArray) -> tuple[float, FloatArray]:
        ll, g = ll_grad(z, d)
        return -ll / n, -g / n

    x0 = max(starts, key=lambda z: ll_grad(z, d)[0])
    options = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
    bounds = [_LOG_BOUNDS] * len(x0)
    res = optimize.minimize(
        objective, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=options
    )
    iterations = res.nit
    if not res.success:  # a line search that stalls near the optimum often succeeds on restart
        res = optimize.minimize(
            objective, res.x, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
        iterations += res.nit
    z, message = res.x, str(res.message)
    converged, at_bound, huge, hessian = _convergence(objective, z, n, res.success)
    free = ~at_bound & ~huge
    if not converged and np.any(huge) and np.any(free):
        # On a ridge to infinity (e.g. a, b with a/(a+b) fixed) the likelihood hardly moves
        # along the huge pair, and L-BFGS-B can stall there before the other parameters
        # settle (one night in five at M). Polish those with the huge ones held: the
        # profile likelihood along the ridge is what the predictions depend on.
        def held(zf: FloatArray) -> tuple[float, FloatArray]:
            full = z.copy()
            full[free] = zf
            value, gradient = objective(full)
            return value, gradient[free]

        polished = optimize.minimize(
            held,
            z[free],
            jac=True,
            method="L-BFGS-B",
            bounds=[_LOG_BOUNDS] * int(free.sum()),
            options=options,
        )
        iterations += polished.nit
        z = z.copy()
        z[free] = polished.x
        message += f"; the other parameters polished along the ridge: {polished.message}"
        converged, at_bound, huge, hessian = _convergence(objective, z, n, False)
    if np.any(at_bound):
        message += "; at bound: " + ", ".join(np.array(names)[at_bound])
    if np.any(huge):
        message += (
            "; " + ", ".join(np.array(names)[huge]) + " run off to infinity together: that "
            "mixing distribution collapses to a point (no heterogeneity); predictions stay finite"
        )
    values = [float(v) for v in np.exp(z)]
    params_type = BgNbdParams if len(names) == 4 else GammaGammaParams
    return FitResult(
        params=params_type(*values),
        loglik=-float(objective(z)[0]) * n,
        std_errors=_std_errors(hessian, z, names),
        customers=n,
        distinct_rows=len(d.x),
        converged=converged,
        message=message,
        iterations=int(iterations),
        seconds=time.perf_counter() - started,
    )


def _convergence(objective, z: FloatArray, n: float, optimiser_success: bool):
    """(converged, at bound, huge, Hessian of the total negative log-likelihood) at ``z``: converged when the optimiser says so or when a
    Newton step on every free parameter (neither at the box nor run off to infinity) is
    below _CONVERGED_SE standard errors."""
    _, g = objective(z)
    hessian = _hessian(objective, z) * n
    at_bound = np.isclose(z, _LOG_BOUNDS[0]) | np.isclose(z, _LOG_BOUNDS[1])
    huge = np.exp(z) > _RIDGE
    newton_in_se = np.abs(g * n) / np.sqrt(np.clip(np.diag(hessian), 1e-300, None))
    free = ~at_bound & ~huge
    converged = bool(optimiser_success or np.all(newton_in_se[free] < _CONVERGED_SE))
    return converged, at_bound, huge, hessian


def _hessian(objective, z: FloatArray) -> FloatArray:
    """Hessian of the objective by central differences of its analytic gradient."""
    h = 1e-5
    rows = []
    for i in range(len(z)):
        step = np.zeros_like(z)
        step[i] = h
        rows.append((objective(z + step)[1] - objective(z - step)[1]) / (2 * h))
    hessian = np.array(rows)
    return (hessian + hessian.T) / 2


def _std_errors(hessian: FloatArray, z: FloatArray, names: tuple[str, ...]) -> dict[str, float]:
    """Delta-method standard errors of exp(z) from the observed information in z."""
    try:
        se = np.exp(z) * np.sqrt(np.clip(np.diag(np.linalg.inv(hessian)), 0, None))
    except np.linalg.LinAlgError:
        se = np.full(len(z), np.nan)
    return {name: float(s) for name, s in zip(names, se, strict=True)}


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> FitResult:
    """Maximum-likelihood BG/NBD. ``weights`` counts customers per row (optional)."""
    started = time.perf_counter()
    d = _bgnbd_rows(frequency, recency, T, weights)
    n = d.w.sum()
    mean_x = max(float(d.w @ d.x / n), 1e-3)
    mean_t = max(float(d.w @ d.cols[1] / n), 1e-3)
    # Starts: unit-shape purchase rates at the observed mean rate; a few dropout shapes.
    starts = [np.log([1.0, mean_t / mean_x, a, b]) for a, b in ((1.0, 1.0), (0.5, 2.0), (1.0, 5.0))]
    return _maximise(_bgnbd_ll_grad, starts, d, ("r", "alpha", "a", "b"), started)


def fit_gamma_gamma(
    frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
) -> FitResult:
    """Maximum-likelihood Gamma-Gamma on customers with frequency > 0 and positive mean
    spend of their repeat purchases (pass only those rows)."""
    started = time.perf_counter()
    d = _gg_rows(frequency, monetary_value, weights)
    n = d.w.sum()
    mean_m = float(d.w @ d.cols[0] / n)
    # E[spend] = p v / (q - 1): start each (p, q) at the v that matches the observed mean.
    starts = [
        np.log([p, q, mean_m * (q - 1) / p]) for p, q in ((1.0, 3.0), (5.0, 3.0), (2.0, 10.0))
    ]
    return _maximise(_gg_ll_grad, starts, d, ("p", "q", "v"), started)


# --- BG/NBD predictions (all times in the model unit) -------------------------------------
def _log_alive_odds(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """ln[(1 - P(alive)) / P(alive)] = ln(a / (b+x-1)) + (r+x) ln((alpha+T)/(alpha+t_x)), x > 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    safe = np.where(x > 0, b + x - 1, 1.0)
    odds = np.log(a / safe) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, odds, -np.inf)


def probability_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(still active at T | x, t_x, T); 1 for customers without repeat purchases."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    return special.expit(-_log_alive_odds(params, x, t_x, big_t))


def _purchases_if_alive(
    params: BgNbdParams, horizons: list[float], x: FloatArray, T: FloatArray
) -> tuple[FloatArray, NDArray[np.intp]]:
    """Expected purchases in (T, T+t] for a customer alive at T (eq. 10 without P(alive)),
    one row per horizon t and one column per distinct (x, T) pair, with each customer's
    column index: the value depends on (x, T) only, so it is computed once per pair.

    Eq. 10's bracket (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x;
    a+b+x-1; z)], z = t/(alpha+T+t), is used in the equal form that Euler's transformation
    gives, (a+b+x-1)/(a-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)], whose upper
    parameters do not grow with x (frequent buyers neither overflow nor lose digits).
    Where the hypergeometric cannot be evaluated (a large: the fit ran along the ridge
    a, b -> inf; or z within 1e-4 of 1) the same expectation is integrated numerically
    (:func:`_purchases_if_alive_by_quadrature`); the two agree to 1e-10 where both work.
    """
    r, alpha, b = params.r, params.alpha, params.b
    a = params.a if abs(params.a - 1) > 1e-7 else 1 + 1e-7  # removable 0/0 at a = 1
    (xu, tu), inverse = _unique_rows([x, T])
    out = np.empty((len(horizons), len(xu)))
    for i, t in enumerate(horizons):
        if a <= _CLOSED_FORM_MAX_A:
            z = t / (alpha + tu + t)
            with np.errstate(all="ignore"):
                hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + xu - 1, z)
                value = (a + b + xu - 1) / (a - 1) * (1 - np.exp((a - 1) * np.log1p(-z)) * hyp)
            failed = ~np.isfinite(value) | (value < 0)
        else:
            value, failed = np.empty(len(xu)), np.ones(len(xu), dtype=bool)
        if failed.any():
            value[failed] = _purchases_if_alive_by_quadrature(params, t, xu[failed], tu[failed])
        out[i] = value
    return out, inverse


def _purchases_if_alive_by_quadrature(
    params: BgNbdParams, t: float, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p], p ~ Beta(a, b+x): the integral eq. 10
    is the closed form of (lambda integrated out; p's posterior for a customer alive at T).
    Tanh-sinh rule on the quantile scale of p: the integrand is bounded and smooth there,
    and the rule is exact to ~1e-12 for concentrated Betas, where 2F1 overflows."""
    k = np.arange(-_TANH_SINH_NODES, _TANH_SINH_NODES + 1) * _TANH_SINH_STEP
    lower, upper = special.expit(-np.pi * np.sinh(k)), special.expit(np.pi * np.sinh(k))
    weights = _TANH_SINH_STEP * np.pi * np.cosh(k) * lower * upper  # du, u = lower
    values = np.empty(len(x))
    for x_value in np.unique(x):
        rows = x == x_value
        beta = params.b + x_value
        p = np.where(
            lower <= 0.5,
            special.betaincinv(params.a, beta, lower),
            special.betainccinv(params.a, beta, upper),
        )
        s = (t / (params.alpha + T[rows]))[:, None]
        shape = params.r + x_value
        safe_p = np.where(p > 0, p, 1.0)
        g = np.where(p > 0, -np.expm1(-shape * np.log1p(safe_p * s)) / safe_p, shape * s)
        values[rows] = g @ weights
    return values


def expected_purchases(
    params: BgNbdParams, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t (eq. 10 of the paper)."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64).ravel() for v in (frequency, recency, T))
    if t <= 0:
        return np.zeros_like(x)
    per_pair, inverse = _purchases_if_alive(params, [t], x, big_t)
    return probability_alive(params, x, t_x, big_t) * per_pair[0][inverse]


def expected_purchases_new_customer(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected repeat purchases of a new customer in (0, t] (eq. 7 of the paper)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=np.float64)
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def probability_no_purchase(
    params: BgNbdParams, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(no purchase in (T, T+t] | x, t_x, T)
    = 1 - P(alive) + P(alive) ((alpha+T)/(alpha+T+t))^(r+x): a dead customer never buys; an
    alive one cannot drop out before their next purchase, and their purchase rate's
    posterior is Gamma(r+x, alpha+T)."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    alive = probability_alive(params, x, t_x, big_t)
    quiet = np.exp(
        (params.r + x) * (np.log(params.alpha + big_t) - np.log(params.alpha + big_t + t))
    )
    return 1 - alive + alive * quiet


def expected_time_to_next_purchase(
    params: BgNbdParams, frequency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[1/lambda | alive] = (alpha+T)/(r+x-1): mean wait for the next purchase of a customer
    who is still active (lambda's posterior is Gamma(r+x, alpha+T)). NaN when r+x <= 1,
    where that mean is infinite. Not weighted by P(alive): read it with probability_alive."""
    x, big_t = (np.asarray(v, dtype=np.float64) for v in (frequency, T))
    shape = params.r + x - 1
    return np.where(shape > 0, (params.alpha + big_t) / np.where(shape > 0, shape, 1.0), np.nan)


# --- Gamma-Gamma prediction --------------------------------------------------------------
def population_mean_spend(params: GammaGammaParams) -> float:
    """E[spend per purchase] of a customer with no repeat purchase: p v / (q - 1); NaN if q <= 1."""
    return params.p * params.v / (params.q - 1) if params.q > 1 else float("nan")


def expected_order_value(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """E[spend | x, m] = p (v + x m) / (p x + q - 1): the observed mean shrunk toward the
    population mean; the population mean where x = 0. A non-positive or missing mean of
    repeat purchases (all refunded) is read as 0, i.e. shrunk from 0."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.nan_to_num(np.asarray(monetary_value, dtype=np.float64), nan=0.0).clip(min=0.0)
    p, q, v = params.p, params.q, params.v
    conditional = p * (v + x * m) / (p * x + q - 1)
    return np.where(x > 0, conditional, population_mean_spend(params))


# --- CLV and scoring ----------------------------------------------------------------------
def discounted_clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = CLV_MONTHS,
    annual_discount_rate: float = ANNUAL_DISCOUNT_RATE,
) -> FloatArray:
    """Sum over months m = 1..months of (E[Y(m)] - E[Y(m-1)]) x E[spend] / (1+d)^(m/12).
    Revenue, in the currency of ``monetary_value``; T in weeks."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64).ravel() for v in (frequency, recency, T))
    spend = expected_order_value(gamma_gamma, x, monetary_value)
    alive = probability_alive(bgnbd, x, t_x, big_t)
    month = np.arange(1, months + 1)
    per_pair, inverse = _purchases_if_alive(bgnbd, list(month * WEEKS_PER_MONTH), x, big_t)
    increments = np.diff(per_pair, axis=0, prepend=0.0)
    discounted = ((1 + annual_discount_rate) ** (-month / 12)) @ increments
    return alive * discounted[inverse] * spend


def churn_risk_band(risk: ArrayLike) -> NDArray[np.object_]:
    """'low' < CHURN_BAND_MEDIUM <= 'medium' < CHURN_BAND_HIGH <= 'high'; None where NaN."""
    risk = np.asarray(risk, dtype=np.float64)
    bands = np.where(
        risk >= CHURN_BAND_HIGH, "high", np.where(risk >= CHURN_BAND_MEDIUM, "medium", "low")
    ).astype(object)
    bands[np.isnan(risk)] = None
    return bands


def score_customers(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency_weeks: ArrayLike,
    t_weeks: ArrayLike,
    monetary_value: ArrayLike,
    *,
    annual_discount_rate: float = ANNUAL_DISCOUNT_RATE,
) -> dict[str, NDArray]:
    """Every predictive column of ``marts.customer_clv`` (times in weeks in, days out)."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x, big_t = np.asarray(recency_weeks, float), np.asarray(t_weeks, float)
    churn = probability_no_purchase(bgnbd, CHURN_HORIZON_DAYS / DAYS_PER_UNIT, x, t_x, big_t)
    return {
        "probability_alive": probability_alive(bgnbd, x, t_x, big_t),
        "expected_purchases_52w": expected_purchases(bgnbd, PURCHASES_HORIZON_WEEKS, x, t_x, big_t),
        "expected_order_value": expected_order_value(gamma_gamma, x, monetary_value),
        "predicted_clv_12m": discounted_clv(
            bgnbd,
            gamma_gamma,
            x,
            t_x,
            big_t,
            monetary_value,
            annual_discount_rate=annual_discount_rate,
        ),
        "churn_risk_90d": churn,
        "churn_risk_band": churn_risk_band(churn),
        "expected_days_to_next_order": expected_time_to_next_purchase(bgnbd, x, big_t)
        * DAYS_PER_UNIT,
    }


# --- Data-sufficiency guard ---------------------------------------------------------------
@dataclass(frozen=True)
class Sufficiency:
    sufficient: bool
    repeat_customers: int
    history_days: int
    note: str


def check_sufficiency(frequency: ArrayLike, t_days: ArrayLike) -> Sufficiency:
    """Fit only with >= MIN_REPEAT_CUSTOMERS customers who bought again and a history
    (as-of date minus the earliest first purchase) of >= MIN_HISTORY_DAYS days."""
    x, t = np.asarray(frequency, dtype=np.float64), np.asarray(t_days, dtype=np.float64)
    repeat = int(np.sum(x > 0))
    history = int(t.max()) if len(t) else 0
    problems = []
    if repeat < MIN_REPEAT_CUSTOMERS:
        problems.append(
            f"{repeat} customers with repeat purchases (minimum {MIN_REPEAT_CUSTOMERS})"
        )
    if history < MIN_HISTORY_DAYS:
        problems.append(f"{history} days of purchase history (minimum {MIN_HISTORY_DAYS})")
    if problems:
        note = "not enough data to predict: " + " and ".join(problems)
    else:
        note = (
            f"BG/NBD + Gamma-Gamma fitted on {len(x)} customers, {repeat} with repeat "
            f"purchases, over {history} days of history"
        )
    return Sufficiency(not problems, repeat, history, note)


def repeat_spenders(frequency: NDArray, monetary_value: NDArray) -> NDArray[np.bool_]:
    """The customers Gamma-Gamma is fitted on: repeat buyers with a positive mean spend."""
    return (frequency > 0) & (monetary_value > 0)


def fit_and_score(
    frequency: ArrayLike, recency_weeks: ArrayLike, t_weeks: ArrayLike, monetary_value: ArrayLike
) -> tuple[FitResult, FitResult, dict[str, NDArray]]:
    """Fit BG/NBD on every customer and Gamma-Gamma on those with repeat spend, then score
    every customer: the customer_clv asset's computation (and the benchmark's)."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x, big_t = np.asarray(recency_weeks, float), np.asarray(t_weeks, float)
    m = np.asarray(monetary_value, dtype=np.float64)
    bgnbd = fit_bgnbd(x, t_x, big_t)
    spend_rows = repeat_spenders(x, m)
    gamma_gamma = fit_gamma_gamma(x[spend_rows], m[spend_rows])
    scores = score_customers(bgnbd.params, gamma_gamma.params, x, t_x, big_t, m)
    return bgnbd, gamma_gamma, scores


# --- Simulation (tests, parameter recovery) -----------------------------------------------
def simulate_bgnbd(
    params: BgNbdParams, T: ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(frequency, recency, T) of customers observed for T after their first purchase.

    Exact and vectorised: the customer drops out right after repeat purchase K ~ Geometric(p);
    the Poisson(lambda) process has N ~ Poisson(lambda T) points in (0, T]; x = min(K, N),
    and the x-th of N uniform points on (0, T] is T x Beta(x, N - x + 1)."""
    big_t = np.asarray(T, dtype=np.float64).ravel()
    n = len(big_t)
    lam = rng.gamma(params.r, 1 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    k = rng.geometric(np.clip(p, 1e-300, 1))
    arrivals = rng.poisson(lam * big_t)
    x = np.minimum(k, arrivals)
    rep = x > 0
    t_x = np.zeros(n)
    t_x[rep] = big_t[rep] * rng.beta(x[rep], arrivals[rep] - x[rep] + 1)
    return x.astype(np.float64), t_x, big_t


def simulate_gamma_gamma(
    params: GammaGammaParams, frequency: ArrayLike, rng: np.random.Generator
) -> FloatArray:
    """Mean spend of each customer's x repeat purchases (NaN where x = 0)."""
    x = np.asarray(frequency, dtype=np.float64).ravel()
    nu = rng.gamma(params.q, 1 / params.v, len(x))
    rep = x > 0
    m = np.full(len(x), np.nan)
    m[rep] = rng.gamma(params.p * x[rep], 1 / nu[rep]) / x[rep]
    return m


# --- Customer-summary CSV (the `crm-warehouse clv-fit` command) ----------------------------
RFM_COLUMNS = ("customer_id", "frequency", "recency", "T")


class RfmFileError(ValueError):
    """A customer-summary file that cannot be fitted; the message names file, line, column."""


@dataclass(frozen=True)
class RfmFile:
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray | None  # NaN where frequency = 0


def read_rfm_csv(path: str) -> RfmFile:
    """Read and validate customer_id,frequency,recency,T[,monetary_value] (header = line 1)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _read_rfm_rows(path, csv.reader(handle))
    except OSError as exc:
        raise RfmFileError(f"{path}: cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RfmFileError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise RfmFileError(f"{path}: not a readable CSV ({exc})") from exc


def _rfm_error(path: str, line: int, column: str | None, problem: str) -> RfmFileError:
    where = f"line {line}" + (f", column {column!r}" if column else "")
    return RfmFileError(f"{path}: {where}: {problem}")


def _read_rfm_rows(path: str, reader) -> RfmFile:
    header = [name.strip() for name in next(reader, [])]
    missing = [c for c in RFM_COLUMNS if c not in header]
    if missing:
        raise _rfm_error(
            path, 1, missing[0], f"missing (the header must name {', '.join(RFM_COLUMNS)})"
        )
    numeric = [c for c in (*RFM_COLUMNS[1:], "monetary_value") if c in header]
    index = {c: header.index(c) for c in header}
    values: dict[str, list[float]] = {c: [] for c in numeric}
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise _rfm_error(path, line, None, f"{len(row)} fields, the header has {len(header)}")
        parsed = {c: _rfm_number(path, line, c, row[index[c]].strip()) for c in numeric}
        problems = _rfm_row_problems(parsed)
        if problems:
            raise _rfm_error(path, line, *problems[0])
        customer = row[index["customer_id"]].strip()
        if not customer or customer in seen:
            problem = f"{customer!r} repeats line {seen[customer]}" if customer else "empty"
            raise _rfm_error(path, line, "customer_id", problem)
        seen[customer] = line
        for column in numeric:
            values[column].append(parsed[column])
    if not seen:
        raise _rfm_error(path, 2, None, "no customer rows")
    arrays = {c: np.array(v, dtype=np.float64) for c, v in values.items()}
    money = arrays.get("monetary_value")
    if money is not None:
        money = np.where(arrays["frequency"] > 0, money, np.nan)
    return RfmFile(arrays["frequency"], arrays["recency"], arrays["T"], money)


def _rfm_number(path: str, line: int, column: str, text: str) -> float:
    if column == "monetary_value" and text == "":
        return float("nan")  # allowed where frequency = 0 (checked by the caller)
    try:
        number = float(text)
    except ValueError:
        raise _rfm_error(path, line, column, f"not a number: {text!r}") from None
    if not np.isfinite(number) or number < 0:
        raise _rfm_error(path, line, column, f"must be a finite number >= 0, got {text!r}")
    return number


def _rfm_row_problems(row: dict[str, float]) -> list[tuple[str, str]]:
    problems = []
    if row["frequency"] != int(row["frequency"]):
        problems.append(("frequency", "must be a whole number of repeat purchases"))
    if row["recency"] > row["T"]:
        problems.append(("recency", f"recency {row['recency']:g} > T {row['T']:g}"))
    if "monetary_value" in row and row["frequency"] > 0 and not row["monetary_value"] > 0:
        problems.append(("monetary_value", "must be > 0 when frequency > 0"))
    return problems
