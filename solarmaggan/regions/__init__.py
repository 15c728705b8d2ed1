"""Far-side active regions for forecasters: detection, tracking, arrival forecasts and the
bulletin (no TensorFlow)."""
