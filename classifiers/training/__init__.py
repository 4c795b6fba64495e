"""Training: rebuilds the classifier heads; the pipeline never imports it.

finetune and tuned_training (the tuned release), heads (fitting), sdg_training and dd_training (the first
release's data; they read the training reports, which nothing else in classifiers/ does).
"""
