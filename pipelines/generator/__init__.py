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
* Truth, per call: ``records``, ``orders``, ``interactions``, ``files`` under
  ``<table>/<first>_<last>.parquet``, plus ``persons.parquet``. Across calls a key can
  repeat: an order corrected by a later call's re-delivery (take the later file), a social
  account active in both calls (take the first).
"""

from .core import generate
from .population import SCALES

__all__ = ["SCALES", "generate"]
