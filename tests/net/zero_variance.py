"""A small region network whose first layer the fp16/bf16 tests give a channel of variance 0
(folded, its weights are ~2e5: beyond fp16): shared by test_fp16_fold and test_predictor_load."""

ZERO_VARIANCE_CFG = """[net]
batch=1
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=4
size=1
stride=1
pad=0
activation=leaky

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[convolutional]
size=1
stride=1
pad=0
filters=14
activation=linear

[region]
anchors=1,1, 2,2
classes=2
coords=4
num=2
softmax=1
"""
