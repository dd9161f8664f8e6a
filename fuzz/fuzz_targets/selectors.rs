//! Label selectors, field selectors and cron schedules from query strings and manifests
//! never crash their parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sel) = api::selector::LabelSelector::parse(s) {
        let _ = sel.to_string();
    }
    if let Ok(f) = api::fields::FieldSelector::parse(s) {
        let _ = f.convert("pods");
    }
    let _ = api::schedule::Schedule::parse(s);
});
