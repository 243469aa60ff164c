//! The `nn` command-line tool of the `nn-*` workspace.
//!
//! This crate is intentionally empty for now: the commands (`nn train`, `nn sanity`, `nn lr-find`,
//! `nn init-stats`, `nn search`, `nn eval`, `nn predict`) are planned in the project's issue
//! "The `nn` command-line tool". It is the top of the layer order and the only crate that prints.
