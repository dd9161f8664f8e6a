//! The `pods/log` endpoint's query string (`PodLogOptions`): query parsing and validation
//! as the apiserver does them, with any `now`. Never a crash; a valid result is consistent.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((now, raw)) = data.split_at_checked(8) else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(raw) else {
        return;
    };
    let secs = i64::from_le_bytes(now.try_into().expect("8 bytes"));
    let Ok(now) = jiff::Timestamp::from_second(secs) else {
        return;
    };
    let q = apiserver::request::Query::parse(Some(raw));
    if let Ok(opts) = apiserver::logs::parse_options(&q, "p", now) {
        assert!(opts.limit_bytes != Some(0), "limitBytes 0 accepted");
    }
});
