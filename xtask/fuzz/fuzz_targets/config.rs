//! Config files: the `nn` run config (TOML, then validation and the library config it builds) and
//! nn-train's `TrainConfig` (JSON and TOML, then validation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_cli::config::RunConfig;
use nn_train::TrainConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = RunConfig::from_toml(text) {
        if config.validate().is_ok() {
            let _ = config.train_config(784, 10, 1000);
        }
        let _ = RunConfig::from_toml(&config.to_toml());
    }
    if let Ok(config) = TrainConfig::from_json(text) {
        let _ = config.validate();
    }
});
