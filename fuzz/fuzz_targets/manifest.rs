//! Manifest decoding as the registry does it: JSON, the strict unknown-field check, typed
//! decoding, defaulting and validation, for Jobs, CronJobs and Pods. Never a crash.
#![no_main]
use k8s_openapi::api::{batch::v1 as batch, core::v1 as core};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let plural = ["jobs", "cronjobs", "pods"][usize::from(kind) % 3];
    let group = if plural == "pods" { "" } else { "batch" };
    let r = api::resource::find(group, "v1", plural).expect("served");
    let _ = api::schema::unknown_fields(r, &value);
    let mut pruned = value.clone();
    api::schema::drop_empty_collections(r, &mut pruned);
    match plural {
        "jobs" => {
            if let Ok(mut job) = serde_json::from_value::<batch::Job>(value) {
                api::defaults::default_job(&mut job);
                api::defaults::prepare_job_for_create(
                    &mut job,
                    "0f0e0d0c-0b0a-0908-0706-050403020100",
                );
                let _ = api::validation::validate_job_create(&job);
                let _ = api::validation::validate_job_update(&job, &job);
            }
        }
        "cronjobs" => {
            if let Ok(mut cj) = serde_json::from_value::<batch::CronJob>(value) {
                api::defaults::default_cronjob(&mut cj);
                let _ = api::validation::validate_cronjob_create(&cj);
            }
        }
        _ => {
            if let Ok(mut pod) = serde_json::from_value::<core::Pod>(value) {
                api::defaults::default_pod(&mut pod);
                let _ = api::validation::validate_pod_create(&pod);
            }
        }
    }
});
