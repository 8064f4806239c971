"""Winograd's F(2x2, 3x3): a 3x3 convolution (stride 1, padding 1) with 2.25 times fewer multiplications.

The readable twin of minicnn/kernels/winograd_numba.py, the numba backend's fast
path for these convolutions; tests/test_fastpaths.py holds the two equal, and
both equal to ``conv2d_forward`` (to float rounding: the arithmetic is
reordered, not approximated). Lavin & Gray 2016, "Fast Algorithms for
Convolutional Neural Networks".

Cut the output into 2x2 tiles. The 2x2 outputs of one tile need only the 4x4
input patch d around it, and with the constant matrices below

    output tile  Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, 4x4)

for one 3x3 filter g and one input channel. Over the input channels the
elementwise products are summed, which, written per position k of the 4x4
"Winograd domain", is a matrix product:

    U[k] = (G g G^T)[k]      (F, C)   the filters, transformed
    V[k] = (B^T d B)[k]      (C, T)   the input tiles, T tiles in all
    M[k] = U[k] @ V[k]       (F, T)   16 matrix products
    Y    = A^T M A                    back to 2x2 outputs per tile and filter

16 F C T multiplications instead of im2col's 9 F C (4T) = 36 F C T: 2.25 times
fewer. The transforms are additions and halvings only.

Backward:

    dx  the input gradient of this convolution is the same kind of convolution of
        dout with the filters flipped in space and their two channel axes swapped
    dW  Y = A^T [U * V] A is linear in U, so dU[k] = (A dY A^T)[k] @ V[k]^T, summed over
        tiles, and dW = G^T dU G, the adjoint of the filter transform
"""
from .arrays import array_module

# The constant matrices of F(2x2, 3x3), as lists (the array module makes them arrays).
B_T = [[1, 0, -1, 0],
       [0, 1, 1, 0],
       [0, -1, 1, 0],
       [0, 1, 0, -1]]
G = [[1, 0, 0],
     [0.5, 0.5, 0.5],
     [0.5, -0.5, 0.5],
     [0, 0, 1]]
A_T = [[1, 1, 1, 0],
       [0, 1, -1, -1]]


def winograd_applies(x_shape, weight_shape, stride, padding):
    """Whether F(2x2, 3x3) computes this convolution: 3x3, stride 1, padding 1, even H and W."""
    _, _, H, W = x_shape
    return (tuple(weight_shape[2:]) == (3, 3) and stride == 1 and padding == 1
            and H % 2 == 0 and W % 2 == 0)


def input_tiles(x):
    """x (N, C, H, W) -> V (16, C, T), T = N (H/2) (W/2): B^T d B of every 4x4 patch d around
    each 2x2 output tile (padding 1 read as zeros), tile t = (n, tile row, tile column)."""
    xp = array_module(x)
    N, C, H, W = x.shape
    padded = xp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    # patches[n, c, i, j] is the 4x4 patch of tile (i, j): rows 2i .. 2i+3 of the padded image
    patches = xp.stack([xp.stack([padded[:, :, a:a + H:2, b:b + W:2] for b in range(4)], axis=-1)
                        for a in range(4)], axis=-2)              # (N, C, H/2, W/2, 4, 4)
    b_t = xp.asarray(B_T, dtype=x.dtype)
    transformed = b_t @ patches @ b_t.T                            # B^T d B, per patch
    return transformed.transpose(4, 5, 1, 0, 2, 3).reshape(16, C, -1)


def filter_tiles(weight):
    """weight (F, C, 3, 3) -> U (16, F, C): G g G^T for every filter and channel."""
    xp = array_module(weight)
    g = xp.asarray(G, dtype=weight.dtype)
    F, C = weight.shape[:2]
    return (g @ weight @ g.T).transpose(2, 3, 0, 1).reshape(16, F, C)


def output_from_tiles(M, x_shape):
    """M (16, F, T) -> (N, F, H, W): A^T m A for every tile and filter, the 2x2 tiles put back."""
    xp = array_module(M)
    N, _, H, W = x_shape
    F = M.shape[1]
    a_t = xp.asarray(A_T, dtype=M.dtype)
    m = M.reshape(4, 4, F, N, H // 2, W // 2).transpose(3, 2, 4, 5, 0, 1)   # (N, F, h, w, 4, 4)
    tiles = a_t @ m @ a_t.T                                                 # (N, F, h, w, 2, 2)
    return tiles.transpose(0, 1, 2, 4, 3, 5).reshape(N, F, H, W)


def winograd_conv3x3_forward(x, weight, bias):
    """x (N, C, H, W), weight (F, C, 3, 3), bias (F,) or None -> out (N, F, H, W), the convolution
    with stride 1 and padding 1: the 16 products M[k] = U[k] @ V[k], then A^T M A per tile."""
    V = input_tiles(x)
    M = filter_tiles(weight) @ V                  # (16, F, C) @ (16, C, T) -> (16, F, T)
    out = output_from_tiles(M, x.shape)
    return out if bias is None else out + bias[:, None, None]


def winograd_conv3x3_weight_gradient(dout, x):
    """dout (N, F, H, W), x (N, C, H, W) -> dW (F, C, 3, 3): dU[k] = (A dY A^T)[k] @ V[k]^T summed
    over tiles, then dW = G^T dU G (the adjoint of each transform, in reverse order)."""
    xp = array_module(dout)
    N, F, H, W = dout.shape
    C = x.shape[1]
    a_t = xp.asarray(A_T, dtype=dout.dtype)
    g = xp.asarray(G, dtype=dout.dtype)
    dy = dout.reshape(N, F, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)   # 2x2 tiles
    dm = (a_t.T @ dy @ a_t).transpose(4, 5, 1, 0, 2, 3).reshape(16, F, -1)     # A dY A^T
    du = dm @ input_tiles(x).transpose(0, 2, 1)                                # (16, F, C)
    return g.T @ du.reshape(4, 4, F, C).transpose(2, 3, 0, 1) @ g


def winograd_conv3x3_transpose(dout, weight):
    """dout (N, F, H, W) -> dx (N, C, H, W): the convolution of dout with the filters flipped in
    space and with their channel axes swapped, (C, F, 3, 3)."""
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return winograd_conv3x3_forward(dout, flipped, None)
