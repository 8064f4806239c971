"""Per-channel normalization: the input scaling every convolutional network expects.

Pixels arrive as uint8 in 0..255. Training is better behaved when each input
channel has mean 0 and standard deviation 1: the first layer's He-initialized
weights assume inputs of unit scale, and no channel dominates the gradients
just because it is brighter on average. So

    x_normalized = (x / 255 - mean) / std        per channel (R, G, B)

with ``mean`` and ``std`` measured on the *training* images only (measuring
them on validation or test images would leak information about those). The
same two vectors must be used at prediction time, which is why the training
code stores them in the checkpoint.
"""
import numpy as np

# A channel that is constant in every image has std 0; dividing by it would
# give inf/NaN, so the std is floored at this value (on the 0-1 scale).
MIN_STD = 1e-6

# Images per chunk in channel_stats: 1,024 float64 images of 3x64x64 are 100 MB.
STATS_CHUNK = 1024


def channel_stats(images):
    """images: (N, 3, H, W) uint8 -> (mean, std), each (3,) float32 on the 0-1 scale.

    Sums are taken in float64, chunk by chunk, so precision does not suffer
    from adding 40 million values and memory stays at one chunk, not a float
    copy of the whole set. std is the population standard deviation.
    """
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"channel_stats needs a non-empty (N, C, H, W) array, got shape {images.shape}")
    total = np.zeros(images.shape[1])
    total_of_squares = np.zeros(images.shape[1])
    for start in range(0, len(images), STATS_CHUNK):
        chunk = images[start:start + STATS_CHUNK].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        total_of_squares += np.square(chunk).sum(axis=(0, 2, 3))
    values_per_channel = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / values_per_channel
    # E[x^2] - E[x]^2 can come out a hair below 0 by rounding, hence the clip
    variance = np.clip(total_of_squares / values_per_channel - np.square(mean), 0.0, None)
    std = np.maximum(np.sqrt(variance), MIN_STD)
    return mean.astype(np.float32), std.astype(np.float32)


def normalize(images, mean, std):
    """images: (..., 3, H, W) uint8 -> float32 of the same shape, (images / 255 - mean) / std.

    mean, std: (3,) on the 0-1 scale, as returned by ``channel_stats``.
    """
    channel_shape = (-1, 1, 1)   # broadcast one value per channel over H and W
    mean = np.asarray(mean, dtype=np.float32).reshape(channel_shape)
    std = np.asarray(std, dtype=np.float32).reshape(channel_shape)
    return (images.astype(np.float32) / np.float32(255.0) - mean) / std
