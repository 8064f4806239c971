"""train_step: one step of stochastic gradient descent. The whole of training is this, repeated.

    loss, logits = train_step(model, optimizer, images, targets)

Everything else in minicnn/train (batches, the divergence guard, checkpoints,
the epochs) only prepares the arguments of this function or looks at what it
returns.
"""


def train_step(model, optimizer, images, targets):
    """One step on one batch -> (loss: the batch's mean loss, a 0-d array; logits: (N, K)).

    model      a Sequential that ends with SoftmaxCrossEntropy
    optimizer  an optimizer of minicnn.optim (SGD, Adam, AdamW)
    images     (N, C, H, W) floats on the model's backend, normalized and augmented
    targets    (N,) integer labels, or (N, K) target probabilities (soft targets)

    On a device backend nothing here waits for the GPU: the loss stays a device array.
    """
    logits = model.forward(images)                     # (N, K): every layer's forward, in order
    loss = model.loss_layer.forward(logits, targets)   # softmax cross-entropy, the batch mean
    model.backward(input_gradient=False)               # every parameter's gradient, from the top
    optimizer.step(model)                              # each parameter moves against its gradient
    return loss, logits
