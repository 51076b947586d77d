"""Geometry sweep (`flexspim sweep`): area, cycles and energy across array geometries and
resolutions. One job per module: `space` (axes and ranges), `point` (one point's figures),
`network` (the example network's energy), `area` (Yosys), `rtl` (measured cycles), `runner`
(tasks, cache, local processes or Dask), `report` (CSV/JSON), `plots` (PNG)."""
