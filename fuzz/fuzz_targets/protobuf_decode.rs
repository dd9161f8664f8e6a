//! Protobuf request bodies (`k8s\0` envelope + object) never crash the decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = api::protobuf::decode(data);
});
