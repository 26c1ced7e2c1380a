"""Darknet-19 style image classification: labels from paths, Darknet's augmentation and
preprocessing, the softmax/cost training loss, validation and prediction."""
