//! The `nn` binary: see `nn --help` and the `nn_cli` crate docs.

fn main() {
    std::process::exit(nn_cli::main_with_args(std::env::args().collect()));
}
