//! The three non-apply patch types never crash on any target and patch document. Input: one
//! byte choosing the patch type, then the target JSON and the patch JSON separated by a NUL.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(2, |b| *b == 0);
    let (Some(target), Some(patch)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(target), Ok(patch)) = (
        serde_json::from_slice::<serde_json::Value>(target),
        serde_json::from_slice::<serde_json::Value>(patch),
    ) else {
        return;
    };
    let jobs = api::resource::find("batch", "v1", "jobs").expect("jobs are served");
    let _ = match kind % 3 {
        0 => api::patch::json_merge_patch(&target, &patch),
        1 => api::patch::json_patch(&target, &patch),
        _ => api::patch::strategic_merge_patch(jobs, &target, &patch),
    };
});
