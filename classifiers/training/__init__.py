"""Training: rebuilds the classifier heads; the pipeline never imports it."""
