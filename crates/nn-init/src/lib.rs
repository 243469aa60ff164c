//! Weight initialisation for the `nn-*` workspace (to be filled by the nn-init issue).
