#!/usr/bin/env python3
"""Element-wise activations forward and backward at 1M and 16M f32 elements in NumPy and PyTorch,
beside a copy of the same size (the bandwidth bound), with preallocated outputs where the library
allows it.

    python3 benches/peers/activations.py --threads 1

Pairs with `activations/<op>_<forward|backward>/<1M|16M>/t<threads>` and `activations/copy/...` of
benches/benches/activations.rs, and counts bytes the same way: forward and copy 8 B per element,
backward 12 B (it reads `dout` and the saved tensor, writes `dx`). Throughput in bytes/s.

NumPy: whole-array ufuncs with `out=` (the backward allocates its mask or `where` temporaries, as
CS231n's `relu_backward` does); no GELU (NumPy has no `erf`). PyTorch: the ATen kernels autograd
runs (`relu`, `leaky_relu`, `sigmoid`, `tanh`, `elu`, `gelu` and their `*_backward` ops) with
`out=`/`grad_input=` buffers; NumPy is single-threaded for element-wise work whatever the thread
count, PyTorch uses `torch.set_num_threads`.
"""

import peerlib

ARGS, np, torch = peerlib.setup(__doc__.split("\n")[0])
SIZES = (("1M", 1 << 20), ("16M", 1 << 24))


def numpy_ops():
    """name -> (forward(x, y), backward(dout, x, y, dx)); `y` is the forward output."""
    f32 = np.float32

    def sig_f(x, y):
        np.negative(x, out=y)
        np.exp(y, out=y)
        y += f32(1)
        np.reciprocal(y, out=y)

    return {
        "relu": (lambda x, y: np.maximum(x, f32(0), out=y),
                 lambda d, x, y, dx: np.multiply(d, x > 0, out=dx)),
        "leaky_relu": (lambda x, y: np.copyto(y, np.where(x > 0, x, f32(0.01) * x)),
                       lambda d, x, y, dx: np.multiply(d, np.where(x > 0, f32(1), f32(0.01)), out=dx)),
        "sigmoid": (sig_f, lambda d, x, y, dx: np.multiply(d, y * (f32(1) - y), out=dx)),
        "tanh": (lambda x, y: np.tanh(x, out=y),
                 lambda d, x, y, dx: np.multiply(d, f32(1) - y * y, out=dx)),
        "elu": (lambda x, y: np.copyto(y, np.where(x > 0, x, np.expm1(np.minimum(x, f32(0))))),
                lambda d, x, y, dx: np.multiply(d, np.where(x > 0, f32(1), y + f32(1)), out=dx)),
    }


def torch_ops():
    aten = torch.ops.aten
    return {
        "relu": (lambda x, y: torch.clamp_min(x, 0.0, out=y),
                 lambda d, x, y, dx: aten.threshold_backward.grad_input(d, y, 0.0, grad_input=dx)),
        "leaky_relu": (lambda x, y: aten.leaky_relu.out(x, 0.01, out=y),
                       lambda d, x, y, dx: aten.leaky_relu_backward.grad_input(d, x, 0.01, False, grad_input=dx)),
        "sigmoid": (lambda x, y: torch.sigmoid(x, out=y),
                    lambda d, x, y, dx: aten.sigmoid_backward.grad_input(d, y, grad_input=dx)),
        "tanh": (lambda x, y: torch.tanh(x, out=y),
                 lambda d, x, y, dx: aten.tanh_backward.grad_input(d, y, grad_input=dx)),
        "elu": (lambda x, y: aten.elu.out(x, 1.0, 1.0, 1.0, out=y),
                lambda d, x, y, dx: aten.elu_backward.grad_input(d, 1.0, 1.0, 1.0, False, x, grad_input=dx)),
        "gelu": (lambda x, y: aten.gelu.out(x, out=y),
                 lambda d, x, y, dx: aten.gelu_backward.grad_input(d, x, grad_input=dx)),
    }


def run(peer, ops, copy, arrays, label, n):
    x, d, y, dx = arrays
    if peerlib.wanted(ARGS, "activations", "copy", label):
        t = peerlib.measure(lambda: copy(y, x), ARGS.seconds)
        peerlib.emit(ARGS, "activations", peer, "copy", label, t, 8 * n, "bytes")
    for name, (fwd, bwd) in ops.items():
        if peerlib.wanted(ARGS, "activations", f"{name}_forward", label):
            t = peerlib.measure(lambda: fwd(x, y), ARGS.seconds)
            peerlib.emit(ARGS, "activations", peer, f"{name}_forward", label, t, 8 * n, "bytes")
        if peerlib.wanted(ARGS, "activations", f"{name}_backward", label):
            fwd(x, y)
            t = peerlib.measure(lambda: bwd(d, x, y, dx), ARGS.seconds)
            peerlib.emit(ARGS, "activations", peer, f"{name}_backward", label, t, 12 * n, "bytes")


def main():
    peerlib.emit_info(np, torch, ARGS.threads)
    for label, n in SIZES:
        rng = np.random.default_rng(1)
        x = (rng.random(n, dtype=np.float32) * 8 - 4).astype(np.float32)
        d = (rng.random(n, dtype=np.float32) * 8 - 4).astype(np.float32)
        y, dx = np.empty_like(x), np.empty_like(x)
        run("numpy", numpy_ops(), lambda dst, src: np.copyto(dst, src), (x, d, y, dx), label, n)
        if torch is not None:
            tx, td = torch.from_numpy(x), torch.from_numpy(d)
            ty, tdx = torch.empty_like(tx), torch.empty_like(tx)
            run("torch", torch_ops(), lambda dst, src: dst.copy_(src), (tx, td, ty, tdx), label, n)


if __name__ == "__main__":
    main()
