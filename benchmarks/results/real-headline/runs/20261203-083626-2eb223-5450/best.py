"""Downsampling of images and rasters by block averaging."""
import numpy as np


def block_reduce(image, block_size=2, cval=0.0):
    """Mean of each block_size x block_size block; the image is padded with cval to whole blocks."""
    image = np.asarray(image, dtype=float)
    b = block_size
    rows = -(-image.shape[0] // b)
    cols = -(-image.shape[1] // b)
    padded = np.full((rows * b, cols * b), cval, dtype=float)
    padded[: image.shape[0], : image.shape[1]] = image
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.mean(padded[i * b : (i + 1) * b, j * b : (j + 1) * b])
    return out
