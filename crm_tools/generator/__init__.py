"""Deterministic sample merchant exports (landing files) with their ground truth.

Pure Python (numpy, polars); no Dagster. Entry point: :func:`generate`.

* The population (persons, identifiers, accounts, habits) depends only on (scale, seed);
  each day's activity of a source only on (seed, day, source). The same arguments give
  byte-identical files, and a call for the following day(s) into the same landing and
  truth dirs continues an earlier call (via ``truth_dir/manifest.json``) without changing
  its files: daily calls for days 1..5 then 6..8 write exactly what one call for 1..8 does.
* Formats follow the source contracts (``pipelines/contracts``) for headers; Shopify files
  use the full 73-column layout of a real export (:data:`reference.SHOPIFY_EXPORT_HEADER`).
* Planted quirks and their rates live next to the code that draws them (:mod:`.activity`
  per row, :mod:`.population` per person, :mod:`.timeline` per delivery).
* Truth, per call: ``records``, ``orders``, ``order_lines``, ``interactions``, ``files``
  under ``<table>/<first>_<last>.parquet``, plus ``persons.parquet``. Across calls a key can
  repeat: an order corrected by a later call's re-delivery (take the later file), a social
  account active in both calls (take the first).
* Behaviour cohorts are planted in the population (``persons.planted_*``): price-sensitive,
  brand-loyal, promotion-driven, churned, socially engaged (:data:`.population.COHORT_SHARE`).
  The warehouse's behaviour rules recover each with precision and recall >= 0.9 over a year
  (tests/unit/test_generator_behaviours.py).
* Churn is the one call-dependent part: planted churners stop buying 186-231 days before the
  *churn anchor*, the last day of the first call of a chain (``manifest.json``), so their
  last order is > 180 days before the end of that range, whatever its length. Later calls
  of the chain reuse the anchor and continue it exactly; a chain split differently from one
  long call gives the same files only while its first call ends on the same day or the whole
  chain spans < 186 days (before that no churner's stop day falls inside the range).
"""

from .core import generate
from .population import SCALES

__all__ = ["SCALES", "generate"]
