"""The 784-512-256-10 ReLU MLP (optionally with BatchNorm) in NumPy, CS231n style, and in PyTorch.

NumPy: the layers of CS231n's assignments (`affine_forward`/`affine_backward`, `relu_*`,
`batchnorm_forward` in training mode and `batchnorm_backward_alt`, `softmax_loss`) and
assignment 2's `adam`, as allocating whole-array expressions in float32. PyTorch: `nn.Sequential`
of `Linear`, `BatchNorm1d`, `ReLU`, `F.cross_entropy`, `torch.optim.Adam` with
`zero_grad(set_to_none=True)`. Both use Adam with lr 1e-3, betas (0.9, 0.999), eps 1e-8, and
He-normal initialisation, like the Rust side.
"""

D, H1, H2, C = 784, 512, 256, 10
LR = 1e-3


def data(np, n, seed=1):
    """Features in [-1, 1) (f32) and labels cycling through the classes, like the Rust benches."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, D), dtype=np.float32) * 2.0 - 1.0).astype(np.float32)
    y = (np.arange(n) * 7) % C
    return x, y.astype(np.int64)


class NumpyMlp:
    """CS231n's FullyConnectedNet for [512, 256] hidden units, with Adam state per parameter."""

    def __init__(self, np, batch_norm, seed=0):
        self.np = np
        self.bn = batch_norm
        rng = np.random.default_rng(seed)
        dims = [D, H1, H2, C]
        self.params = {}
        for i in range(3):
            std = np.sqrt(2.0 / dims[i])
            self.params[f"W{i}"] = (rng.standard_normal((dims[i], dims[i + 1])) * std).astype(np.float32)
            self.params[f"b{i}"] = np.zeros(dims[i + 1], dtype=np.float32)
            if batch_norm and i < 2:
                self.params[f"gamma{i}"] = np.ones(dims[i + 1], dtype=np.float32)
                self.params[f"beta{i}"] = np.zeros(dims[i + 1], dtype=np.float32)
        self.running = {i: [np.zeros(dims[i + 1], np.float32), np.ones(dims[i + 1], np.float32)]
                        for i in range(2)}
        self.adam = {k: {"m": np.zeros_like(v), "v": np.zeros_like(v), "t": 0} for k, v in self.params.items()}

    def _bn_forward(self, x, i):
        np = self.np
        gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + np.float32(1e-5))
        xhat = (x - mu) * inv_std
        rm, rv = self.running[i]
        self.running[i] = [np.float32(0.9) * rm + np.float32(0.1) * mu, np.float32(0.9) * rv + np.float32(0.1) * var]
        return gamma * xhat + beta, (xhat, gamma, inv_std)

    @staticmethod
    def _bn_backward(dout, cache):
        xhat, gamma, inv_std = cache
        n = dout.shape[0]
        dbeta = dout.sum(axis=0)
        dgamma = (dout * xhat).sum(axis=0)
        dx = (gamma * inv_std / n) * (n * dout - dbeta - xhat * dgamma)
        return dx, dgamma, dbeta

    def step(self, x, y):
        """Forward, softmax loss, backward, Adam on every parameter; returns the loss."""
        np, p = self.np, self.params
        caches = []
        h = x
        for i in range(2):
            a = h.dot(p[f"W{i}"]) + p[f"b{i}"]
            bn_cache = None
            if self.bn:
                a, bn_cache = self._bn_forward(a, i)
            r = np.maximum(a, 0)
            caches.append((h, a, bn_cache))
            h = r
        scores = h.dot(p["W2"]) + p["b2"]
        shifted = scores - scores.max(axis=1, keepdims=True)
        z = np.exp(shifted).sum(axis=1, keepdims=True)
        log_probs = shifted - np.log(z)
        n = x.shape[0]
        loss = -log_probs[np.arange(n), y].mean()
        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads = {"W2": h.T.dot(dscores), "b2": dscores.sum(axis=0)}
        dh = dscores.dot(p["W2"].T)
        for i in (1, 0):
            h_in, a, bn_cache = caches[i]
            da = dh * (a > 0)
            if self.bn:
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = self._bn_backward(da, bn_cache)
            grads[f"W{i}"] = h_in.T.dot(da)
            grads[f"b{i}"] = da.sum(axis=0)
            if i > 0:
                dh = da.dot(p[f"W{i}"].T)
        for k, dw in grads.items():
            s = self.adam[k]
            s["t"] += 1
            s["m"] = 0.9 * s["m"] + 0.1 * dw
            s["v"] = 0.999 * s["v"] + 0.001 * (dw * dw)
            mt = s["m"] / (1 - 0.9 ** s["t"])
            vt = s["v"] / (1 - 0.999 ** s["t"])
            p[k] = p[k] - LR * mt / (np.sqrt(vt) + 1e-8)
        return float(loss)


class TorchMlp:
    """The same network and update in PyTorch (eager mode, float32)."""

    def __init__(self, torch, batch_norm, seed=0):
        import torch.nn as nn

        self.torch = torch
        self.F = torch.nn.functional
        torch.manual_seed(seed)
        layers = []
        dims = [D, H1, H2]
        for i in range(2):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if batch_norm:
                layers.append(nn.BatchNorm1d(dims[i + 1]))
            layers.append(nn.ReLU())
        layers.append(nn.Linear(H2, C))
        for m in layers:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.model = nn.Sequential(*layers).train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)

    def step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        loss = self.F.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss
