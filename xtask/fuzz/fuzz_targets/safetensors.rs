//! Network loading from safetensors bytes, as f32 and as f64; a loaded network must re-save to
//! bytes that load again to the same network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::Network;

fuzz_target!(|data: &[u8]| {
    if let Ok(net) = Network::<f32>::from_safetensors(data) {
        let bytes = net.to_safetensors().expect("a loaded network saves");
        let back = Network::<f32>::from_safetensors(&bytes).expect("a saved network loads");
        assert_eq!(back.to_safetensors().expect("saves again"), bytes);
    }
    let _ = Network::<f64>::from_safetensors(data);
});
