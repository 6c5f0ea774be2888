"""fastnst: real-time neural style transfer.

Tensor convention, used everywhere in the library: images inside torch code are
float RGB tensors of shape (N, 3, H, W) with values in [0, 1]; at the edges (files,
video frames, onnxruntime) they are uint8 RGB arrays of shape (H, W, 3).
ImageNet or Caffe normalisation happens only inside the loss network.
"""

__version__ = "0.1.0"
