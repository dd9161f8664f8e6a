//! YAML request bodies (`Content-Type: application/yaml`) through the registry's decoder
//! (parse, kind and apiVersion checks, strict unknown fields), then typed decoding,
//! defaulting and validation, for Jobs, CronJobs and Pods. Never a crash.
#![no_main]
use apiserver::registry::decode;
use apiserver::request::FieldValidation;
use k8s_openapi::api::{batch::v1 as batch, core::v1 as core};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let plural = ["jobs", "cronjobs", "pods"][usize::from(kind) % 3];
    let group = if plural == "pods" { "" } else { "batch" };
    let r = api::resource::find(group, "v1", plural).expect("served");
    let Ok(d) = decode::decode(r, Some("application/yaml"), body, FieldValidation::Warn) else {
        return;
    };
    match plural {
        "jobs" => {
            if let Ok(mut job) = serde_json::from_value::<batch::Job>(d.object) {
                api::defaults::default_job(&mut job);
                let _ = api::validation::validate_job_create(&job);
            }
        }
        "cronjobs" => {
            if let Ok(mut cj) = serde_json::from_value::<batch::CronJob>(d.object) {
                api::defaults::default_cronjob(&mut cj);
                let _ = api::validation::validate_cronjob_create(&cj);
            }
        }
        _ => {
            if let Ok(mut pod) = serde_json::from_value::<core::Pod>(d.object) {
                api::defaults::default_pod(&mut pod);
                let _ = api::validation::validate_pod_create(&pod);
            }
        }
    }
});
