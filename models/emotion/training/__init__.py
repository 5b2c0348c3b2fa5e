"""Training and evaluation of the emotion model, apart from its runtime inference.

Runtime (what the live worker loads) stays one level up: features.py, model.py, baseline.py.
Here: labelled-corpus discovery (dataset), audio reading and cached features (corpus),
metrics, speaker-normalised evaluation, the cross-corpus protocol (crosscorpus, crossval) and
``python -m models.emotion.training.train``. Training needs the ``train`` extra (scikit-learn).
"""
