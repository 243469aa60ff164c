//! Layers, losses, networks and the fast matmul for the `nn-*` workspace (to be filled by the nn-core issue).
