//! Data preprocessing and data set readers for the `nn-*` workspace (to be filled by the nn-preprocess issue).
