"""Detection training: the image-list loader, the region loss, the engine task and `train_detector`."""
