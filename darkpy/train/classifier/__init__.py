"""Classifier training: Darknet's classification augmentation, the softmax/cost loss, the engine task
and `train_classifier`."""
