"""BG/NBD + Gamma-Gamma (pipelines/lib/clv.py): gradients, parameter recovery on data
simulated from known parameters, the published CDNOW figures, predictions against
simulation, and the data-sufficiency guard."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from pipelines.lib import clv

# CDNOW-like truth in weeks (Fader, Hardie & Lee 2005; Fader & Hardie's Gamma-Gamma note).
BGNBD = clv.BgNbdParams(r=0.24, alpha=4.41, a=0.79, b=2.43)
GG = clv.GammaGammaParams(p=6.25, q=3.74, v=15.44)
# The published CDNOW maximum-likelihood estimates, as printed (3 decimals).
CDNOW = clv.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def _simulate(n: int, seed: int, *, day_granular: bool = False):
    rng = np.random.default_rng(seed)
    T = rng.uniform(30, 78, n)
    if day_granular:  # the warehouse's data: whole days, so identical rows repeat
        T = np.round(T * 7) / 7
    x, t_x, T = clv.simulate_bgnbd(BGNBD, T, rng)
    if day_granular:
        t_x = np.where(x > 0, np.clip(np.ceil(t_x * 7) / 7, 1 / 7, T), 0.0)
    return x, t_x, T, clv.simulate_gamma_gamma(GG, x, rng)


def _as_array(params) -> np.ndarray:
    return np.array(list(vars(params).values()))


def _finite_difference(f, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(z)
    for i in range(len(z)):
        step = np.zeros_like(z)
        step[i] = h
        grad[i] = (f(z + step) - f(z - step)) / (2 * h)
    return grad


# --- gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [BGNBD, clv.BgNbdParams(1.3, 2.0, 1.7, 0.6), clv.BgNbdParams(0.05, 60.0, 0.2, 9.0)],
    ids=["cdnow-like", "b<1", "extreme"],
)
def test_bgnbd_gradient_matches_finite_differences(params: clv.BgNbdParams):
    x, t_x, T, _ = _simulate(3000, seed=1)
    weights = np.random.default_rng(2).integers(1, 4, len(x))

    def loglik(z: np.ndarray) -> float:
        return clv.bgnbd_loglik(clv.BgNbdParams(*np.exp(z)), x, t_x, T, weights)[0]

    _, analytic = clv.bgnbd_loglik(params, x, t_x, T, weights)
    numeric = _finite_difference(loglik, np.log(_as_array(params)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(
    "params", [GG, clv.GammaGammaParams(0.7, 1.5, 300.0)], ids=["cdnow", "other"]
)
def test_gamma_gamma_gradient_matches_finite_differences(params: clv.GammaGammaParams):
    x, _, _, m = _simulate(5000, seed=3)
    rep = x > 0

    def loglik(z: np.ndarray) -> float:
        return clv.gamma_gamma_loglik(clv.GammaGammaParams(*np.exp(z)), x[rep], m[rep])[0]

    _, analytic = clv.gamma_gamma_loglik(params, x[rep], m[rep])
    numeric = _finite_difference(loglik, np.log(_as_array(params)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-3)


def test_weights_are_repeated_rows():
    x, t_x, T, _ = _simulate(500, seed=4, day_granular=True)
    counts = np.random.default_rng(5).integers(1, 5, len(x))
    expanded = [np.repeat(v, counts) for v in (x, t_x, T)]
    ll_weighted = clv.bgnbd_loglik(BGNBD, x, t_x, T, counts)[0]
    ll_expanded = clv.bgnbd_loglik(BGNBD, *expanded)[0]
    assert ll_weighted == pytest.approx(ll_expanded, rel=1e-12)
    fit_weighted, fit_expanded = clv.fit_bgnbd(x, t_x, T, counts), clv.fit_bgnbd(*expanded)
    np.testing.assert_allclose(
        _as_array(fit_weighted.params), _as_array(fit_expanded.params), rtol=1e-6
    )
    assert fit_expanded.distinct_rows < len(expanded[0])  # identical rows were compressed


# --- parameter recovery -------------------------------------------------------------------
def _fit_all(n: int, seed: int):
    # Continuous times, as the model assumes: rounding recency up to whole days biases
    # alpha by ~1 % (about 1.4 standard errors at 150k customers).
    x, t_x, T, m = _simulate(n, seed)
    bgnbd = clv.fit_bgnbd(x, t_x, T)
    rep = x > 0
    gamma_gamma = clv.fit_gamma_gamma(x[rep], m[rep])
    print(
        f"\n{n} customers: BG/NBD {bgnbd.seconds:.2f}s ({bgnbd.distinct_rows} distinct rows), "
        f"Gamma-Gamma {gamma_gamma.seconds:.2f}s ({int(rep.sum())} repeat customers)"
    )
    for fit, truth in ((bgnbd, BGNBD), (gamma_gamma, GG)):
        for name, value in vars(fit.params).items():
            print(
                f"  {name:>5} true {vars(truth)[name]:8.3f}  fitted {value:8.3f} "
                f"± {fit.std_errors[name]:.3f}"
            )
    assert bgnbd.converged and gamma_gamma.converged
    return bgnbd, gamma_gamma


@pytest.mark.parametrize("seed", range(10))
def test_recovery_20k_customers_within_four_standard_errors(seed: int):
    """20,000 customers (the issue's acceptance case): every estimate within 4 of its
    standard errors of the truth, a criterion that holds whatever the seed (the largest of
    30 seeds was 3.2). "Within 10 %" does not at this size: SE(b) and SE(v) are ~8 % of
    the truth and 12 of those 30 seeds missed it for some parameter; 10 % for any seed
    needs ~150k customers, tested below."""
    bgnbd, gamma_gamma = _fit_all(20_000, seed=seed)
    for fit, truth in ((bgnbd, BGNBD), (gamma_gamma, GG)):
        for name, value in vars(fit.params).items():
            assert abs(value - vars(truth)[name]) < 4 * fit.std_errors[name], name


def test_recovery_150k_customers_within_10_percent():
    """150,000 customers: every parameter within 10 % (here 10 % is >= 3 standard errors)."""
    bgnbd, gamma_gamma = _fit_all(150_000, seed=7)
    for fit, truth in ((bgnbd, BGNBD), (gamma_gamma, GG)):
        np.testing.assert_allclose(_as_array(fit.params), _as_array(truth), rtol=0.10)
        assert all(fit.std_errors[k] < 0.034 * v for k, v in vars(truth).items())


def test_one_million_customers_fit_and_score():
    x, t_x, T, m = _simulate(1_000_000, seed=11, day_granular=True)
    started = time.perf_counter()
    bgnbd = clv.fit_bgnbd(x, t_x, T)
    rep = x > 0
    gamma_gamma = clv.fit_gamma_gamma(x[rep], m[rep])
    fitted = time.perf_counter()
    scores = clv.score_customers(bgnbd.params, gamma_gamma.params, x, t_x, T, m)
    print(
        f"\n1M customers: fit {fitted - started:.2f}s "
        f"({bgnbd.distinct_rows} distinct BG/NBD rows), score {time.perf_counter() - fitted:.2f}s"
    )
    np.testing.assert_allclose(_as_array(bgnbd.params), _as_array(BGNBD), rtol=0.05)
    np.testing.assert_allclose(_as_array(gamma_gamma.params), _as_array(GG), rtol=0.05)
    assert all(
        np.isfinite(v).all()
        for k, v in scores.items()
        if k not in ("churn_risk_band", "expected_days_to_next_order")
    )


# --- the published CDNOW figures ----------------------------------------------------------
def test_published_cdnow_expectations():
    """Fader, Hardie & Lee (2005) with their CDNOW estimates: E[X(t)] of a new customer
    (their Excel note's figures) and the paper's worked example, a customer with x = 2,
    t_x = 30.43, T = 38.86 weeks expected to buy 1.226 times in the next 39 weeks."""
    times = [0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00]
    published = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    # The estimates are printed to 3 decimals, so the figures agree to ~0.3 %.
    np.testing.assert_allclose(
        clv.expected_purchases_new_customer(CDNOW, times), published, rtol=4e-3, atol=1e-4
    )
    assert clv.expected_purchases(CDNOW, 39, [2], [30.43], [38.86])[0] == pytest.approx(
        1.226, abs=5e-4
    )


def test_published_gamma_gamma_population_mean():
    """Hardie's Gamma-Gamma spreadsheet: 35.17 for a CDNOW customer without repeat purchases."""
    assert clv.expected_order_value(GG, [0], [np.nan])[0] == pytest.approx(35.17, abs=0.1)


# --- predictions --------------------------------------------------------------------------
def _eq10_by_quadrature(params: clv.BgNbdParams, t: float, x: int, t_x: float, T: float):
    """E[Y(t)] = P(alive) E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p], p ~ Beta(a, b+x)."""

    def integrand(p: float) -> float:
        quiet = ((params.alpha + T) / (params.alpha + T + p * t)) ** (params.r + x)
        return (1 - quiet) / p * stats.beta.pdf(p, params.a, params.b + x)

    value = integrate.quad(integrand, 0, 1, limit=400, epsabs=1e-13, epsrel=1e-10)[0]
    return clv.probability_alive(params, [x], [t_x], [T])[0] * value


@pytest.mark.parametrize(
    "params",
    [CDNOW, clv.BgNbdParams(0.5, 0.3, 1 + 1e-7, 0.8), clv.BgNbdParams(2.0, 10.0, 3.5, 7.0)],
    ids=["cdnow", "a~1", "a>1"],
)
@pytest.mark.parametrize(
    "x,t_x,T,t",
    [(0, 0, 0.14, 52), (2, 30.43, 38.86, 39), (150, 100, 101, 52), (600, 150, 150.5, 52)],
    ids=["new", "paper", "frequent", "very-frequent"],
)
def test_expected_purchases_matches_quadrature(params, x, t_x, T, t):
    """Eq. 10 in its Euler-transformed form equals the integral it comes from, also at
    a = 1 (a removable singularity) and for customers with hundreds of purchases."""
    expected = _eq10_by_quadrature(params, t, x, t_x, T)
    actual = clv.expected_purchases(params, t, [x], [t_x], [T])[0]
    assert actual == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("a,b", [(0.79, 2.43), (5.0, 12.0), (40.0, 300.0)])
def test_closed_form_and_quadrature_agree(a: float, b: float):
    """The two evaluations of eq. 10 (hypergeometric; tanh-sinh quadrature used beyond
    a = 10 or where 2F1 fails) give the same expectation where both work."""
    params = clv.BgNbdParams(0.3, 2.0, a, b)
    x = np.array([0, 0, 1, 3, 30, 300.0])
    T = np.array([0.0, 40, 1, 20, 52, 150])
    quadrature = clv._purchases_if_alive_by_quadrature(params, 52.0, x, T)
    per_pair, inverse = clv._purchases_if_alive(params, [52.0], x, T)
    closed = per_pair[0][inverse]
    if a <= clv._CLOSED_FORM_MAX_A:
        np.testing.assert_allclose(closed, quadrature, rtol=1e-9)
    alive = clv.probability_alive(params, x, T, T)  # recency = T keeps P(alive) away from 0
    by_integral = [
        _eq10_by_quadrature(params, 52.0, xi, ti, ti) for xi, ti in zip(x, T, strict=True)
    ]
    np.testing.assert_allclose(quadrature, np.array(by_integral) / alive, rtol=1e-7)


def test_homogeneous_dropout_ridge():
    """Data whose dropout probability does not vary (the generator's) drives a, b to
    infinity with a/(a+b) fixed: the fit is accepted as converged, says so, and its
    predictions are finite and those of a fixed p = a/(a+b)."""
    rng = np.random.default_rng(13)
    x, t_x, T = clv.simulate_bgnbd(
        clv.BgNbdParams(2.0, 8.0, 3e6, 9.7e7), rng.uniform(20, 60, 5000), rng
    )
    fit = clv.fit_bgnbd(x, t_x, T)
    assert fit.converged and "infinity" in fit.message
    params = fit.params
    assert params.a / (params.a + params.b) == pytest.approx(0.03, rel=0.15)
    expected = clv.expected_purchases(params, 52.0, x, t_x, T)
    p = params.a / (params.a + params.b + x)
    limit = -np.expm1(-(params.r + x) * np.log1p(p * 52.0 / (params.alpha + T))) / p
    np.testing.assert_allclose(
        expected, clv.probability_alive(params, x, t_x, T) * limit, rtol=1e-3
    )
    assert np.isfinite(clv.discounted_clv(params, GG, x, t_x, T, np.full(len(x), 30.0))).all()


def _simulate_with_holdout(n: int, T: float, horizon: float, seed: int):
    """Event-level simulation over (0, T + horizon]: calibration summary and holdout count."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(BGNBD.r, 1 / BGNBD.alpha, n)
    dies_after = rng.geometric(rng.beta(BGNBD.a, BGNBD.b, n))  # repeat purchase K
    points = rng.poisson(lam * (T + horizon))
    owner = np.repeat(np.arange(n), points)
    times = rng.uniform(0, T + horizon, len(owner))
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(points) - points, points) + 1
    alive = rank <= dies_after[owner]
    calibration = alive & (times <= T)
    x = np.bincount(owner[calibration], minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[calibration], times[calibration])
    holdout = np.bincount(owner[alive & (times > T)], minlength=n)
    return x, t_x, np.full(n, T), holdout


def test_predictions_match_simulated_holdout():
    """Averaged over customers, E[Y(t)] and P(no purchase) equal what simulated customers
    then do, overall and within frequency groups (law of total expectation)."""
    horizon = clv.CHURN_HORIZON_DAYS / clv.DAYS_PER_UNIT
    x, t_x, T, holdout = _simulate_with_holdout(200_000, T=40.0, horizon=horizon, seed=8)
    expected = clv.expected_purchases(BGNBD, horizon, x, t_x, T)
    no_purchase = clv.probability_no_purchase(BGNBD, horizon, x, t_x, T)
    for group in (x >= 0, x == 0, x == 1, (x >= 2) & (x <= 4), x >= 5):
        observed, n = holdout[group], group.sum()
        assert abs(expected[group].mean() - observed.mean()) < 4 * observed.std() / np.sqrt(n)
        share = (observed == 0).mean()
        assert abs(no_purchase[group].mean() - share) < 4 * np.sqrt(share * (1 - share) / n) + 1e-9


def test_probability_alive_and_churn_bounds():
    x, t_x, T, _ = _simulate(20_000, seed=9)
    alive = clv.probability_alive(BGNBD, x, t_x, T)
    churn = clv.probability_no_purchase(BGNBD, 13.0, x, t_x, T)
    assert np.all((alive >= 0) & (alive <= 1)) and np.all(alive[x == 0] == 1)
    assert np.all((churn >= 0) & (churn <= 1))
    assert np.all(clv.probability_no_purchase(BGNBD, 1e-9, x, t_x, T) > 1 - 1e-6)
    # E[count] >= P(count >= 1)
    assert np.all(clv.expected_purchases(BGNBD, 13.0, x, t_x, T) >= 1 - churn - 1e-12)


def test_expected_time_to_next_purchase():
    days = clv.expected_time_to_next_purchase(BGNBD, [0, 1, 5], [10.0, 10.0, 10.0])
    assert np.isnan(days[0])  # r + x = 0.24 <= 1: the mean wait is infinite
    assert days[1] == pytest.approx((4.41 + 10) / 0.24)
    assert days[2] == pytest.approx((4.41 + 10) / 4.24)


def test_discounted_clv_telescopes_without_discount():
    x, t_x, T, m = _simulate(2000, seed=10)
    spend = clv.expected_order_value(GG, x, m)
    year = 12 * clv.WEEKS_PER_MONTH
    undiscounted = clv.discounted_clv(BGNBD, GG, x, t_x, T, m, annual_discount_rate=0.0)
    np.testing.assert_allclose(
        undiscounted, clv.expected_purchases(BGNBD, year, x, t_x, T) * spend, rtol=1e-10
    )
    discounted = clv.discounted_clv(BGNBD, GG, x, t_x, T, m)
    assert np.all(discounted <= undiscounted) and np.all(discounted >= undiscounted / 1.1)


def test_expected_order_value_shrinks_toward_population_mean():
    population = clv.population_mean_spend(GG)
    values = clv.expected_order_value(GG, [0, 1, 10, 100, 3], [np.nan, 100.0, 100.0, 100.0, 0.0])
    assert values[0] == pytest.approx(population)
    assert population < values[1] < values[2] < values[3] < 100.0
    assert 0 < values[4] < population  # an all-refunded repeat mean is read as 0


def test_churn_risk_band_thresholds():
    bands = clv.churn_risk_band([0.0, 0.2999, 0.3, 0.6999, 0.7, 1.0, np.nan])
    assert list(bands) == ["low", "low", "medium", "medium", "high", "high", None]


def test_simulation_follows_the_conventions():
    x, t_x, T, m = _simulate(10_000, seed=12)
    assert np.all(x == np.round(x)) and np.all(x >= 0)
    assert np.all((t_x >= 0) & (t_x <= T)) and np.all(t_x[x == 0] == 0)
    assert np.all(np.isnan(m[x == 0])) and np.all(m[x > 0] > 0)


def test_fit_rejects_inconsistent_inputs():
    with pytest.raises(ValueError, match="recency"):
        clv.fit_bgnbd([1], [5.0], [4.0])
    with pytest.raises(ValueError, match="integer"):
        clv.fit_bgnbd([1.5], [1.0], [4.0])
    with pytest.raises(ValueError, match="monetary_value > 0"):
        clv.fit_gamma_gamma([1, 2], [10.0, 0.0])


# --- data-sufficiency guard ---------------------------------------------------------------
def _customers(repeat: int, one_time: int, history_days: int):
    frequency = np.r_[np.ones(repeat), np.zeros(one_time)]
    t_days = np.full(len(frequency), history_days // 2)
    t_days[0] = history_days
    return frequency, t_days


def test_sufficiency_floor():
    ok = clv.check_sufficiency(*_customers(clv.MIN_REPEAT_CUSTOMERS, 10, clv.MIN_HISTORY_DAYS))
    assert ok.sufficient and ok.repeat_customers == clv.MIN_REPEAT_CUSTOMERS
    few = clv.check_sufficiency(*_customers(clv.MIN_REPEAT_CUSTOMERS - 1, 10_000, 400))
    assert not few.sufficient and "repeat purchases" in few.note and "days" not in few.note
    short = clv.check_sufficiency(*_customers(5000, 0, clv.MIN_HISTORY_DAYS - 1))
    assert not short.sufficient and f"{clv.MIN_HISTORY_DAYS - 1} days" in short.note
    neither = clv.check_sufficiency(*_customers(10, 0, 30))
    assert "repeat purchases" in neither.note and "days of purchase history" in neither.note
    empty = clv.check_sufficiency([], [])
    assert not empty.sufficient and empty.history_days == 0


def _ridge_stall_summary() -> tuple[np.ndarray, ...]:
    """The customer-day summary of the generated M warehouse as of 2026-01-05, the night a
    bench run failed on "did not converge" (rebuilt from the paid orders of the next
    night's warehouse; distinct rows with their customer counts)."""
    summary = np.loadtxt(
        Path(__file__).parent / "fixtures" / "bgnbd_ridge_stall.csv.gz",
        delimiter=",",
        skiprows=1,
    )
    frequency, recency_days, t_days, customers = summary.T
    assert customers.sum() == 46851
    return frequency, recency_days / 7, t_days / 7, customers


def _assert_ridge_optimum(fit: clv.FitResult) -> None:
    assert fit.converged and "infinity" in fit.message
    params = fit.params
    assert params.r == pytest.approx(2.238, abs=0.002)
    assert params.alpha == pytest.approx(8.79, abs=0.01)
    assert params.a / (params.a + params.b) == pytest.approx(0.0317, abs=0.0005)


def test_the_ridge_night_converges():
    """Whichever way L-BFGS-B ends on that summary (ABNORMAL on the a, b ridge; where it
    stops depends on the floating-point path, which differs between machines and BLAS
    threads), the fit converges to the same optimum."""
    _assert_ridge_optimum(clv.fit_bgnbd(*_ridge_stall_summary()))


def test_a_fit_stalled_on_the_ridge_is_polished_until_it_converges(monkeypatch):
    """On the failing night L-BFGS-B stopped on the a, b ridge with r and alpha not settled.
    That stop is forced here (the optimiser's own stop and its restart both leave r and
    alpha off their optimum), since where the optimiser stops is not reproducible:
    polishing r and alpha with a, b held gives the converged fit."""
    minimize = clv.optimize.minimize
    calls = []

    def stalled_on_the_ridge(*args, **kwargs):
        result = minimize(*args, **kwargs)
        calls.append(result)
        if len(calls) <= 2:  # the fit and its restart, not the polish
            result.x = result.x + np.array([0.05, -0.05, 0.0, 0.0])
            result.success, result.message = False, "ABNORMAL: "
        return result

    monkeypatch.setattr(clv.optimize, "minimize", stalled_on_the_ridge)
    fit = clv.fit_bgnbd(*_ridge_stall_summary())
    assert len(calls) == 3 and "polished along the ridge" in fit.message
    _assert_ridge_optimum(fit)
