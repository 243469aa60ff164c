//! The trainer's checkpoint state (JSON), through `Trainer::resume`: the fuzz input replaces the
//! state file next to a fixed, valid network file (the state is only reachable through files).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nn_train::{checkpoint::state_path, Trainer};

fn checkpoint() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        nn_fuzz::write_checkpoint(&base.join(format!("nn-fuzz-checkpoint-{}", std::process::id())))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = checkpoint();
    std::fs::write(state_path(path), data).expect("temporary state file");
    if let Ok(trainer) = Trainer::resume(path) {
        let _ = trainer.network().to_safetensors();
    }
});
