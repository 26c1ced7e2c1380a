"""Darknet-19 style image classification, inference side: labels from paths, Darknet's image
preprocessing, validation and prediction (training is in darkpy.train.classifier)."""
