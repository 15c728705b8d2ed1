"""Full-Sun post-processing: synchronic maps of the radial field (:mod:`.synchronic`,
observed and AI-generated line-of-sight magnetograms from several observers combined on one
full-Sun grid, Jeong et al. 2020 style), the potential-field source-surface corona
(:mod:`.pfss`) and surface flux transport (:mod:`.transport`: a full-Sun map carried
forward in time).

Imports no TensorFlow or Keras (nor :mod:`solarmaggan.generate` / :mod:`solarmaggan.models`):
it runs on data machines with sunpy, reproject and sunkit-magex only.
"""
