//! batch/v1: Job and CronJob, their specs and statuses, pod failure and success policies.

use super::conv::convert;
use k8s_openapi::api::batch::v1 as oa;
use k8s_pb::api::batch::v1 as pb;

convert!(pb::Job => oa::Job { metadata: req, spec: opt, status: opt });
convert!(pb::JobSpec => oa::JobSpec {
    parallelism: opt, completions: opt, active_deadline_seconds: opt, pod_failure_policy: opt,
    success_policy: opt, backoff_limit: opt, backoff_limit_per_index: opt, max_failed_indexes: opt,
    selector: opt, manual_selector: opt, template: req, ttl_seconds_after_finished: opt,
    completion_mode: opt, suspend: opt, pod_replacement_policy: opt, managed_by: opt
});
convert!(pb::PodFailurePolicy => oa::PodFailurePolicy { rules: list_req });
convert!(pb::PodFailurePolicyRule => oa::PodFailurePolicyRule {
    action: req, on_exit_codes: opt, on_pod_conditions: list
});
convert!(pb::PodFailurePolicyOnExitCodesRequirement => oa::PodFailurePolicyOnExitCodesRequirement {
    container_name: opt, operator: req, values: list_req
});
convert!(pb::PodFailurePolicyOnPodConditionsPattern => oa::PodFailurePolicyOnPodConditionsPattern {
    status: req
    ; rename { type_ = req(r#type) }
});
convert!(pb::SuccessPolicy => oa::SuccessPolicy { rules: list_req });
convert!(pb::SuccessPolicyRule => oa::SuccessPolicyRule {
    succeeded_indexes: opt, succeeded_count: opt
});
convert!(pb::JobStatus => oa::JobStatus {
    conditions: list, start_time: time, completion_time: time, active: omit, succeeded: omit,
    failed: omit, terminating: opt, completed_indexes: omit, failed_indexes: opt,
    uncounted_terminated_pods: opt, ready: opt
});
convert!(pb::JobCondition => oa::JobCondition {
    status: req, last_probe_time: time, last_transition_time: time, reason: omit, message: omit
    ; rename { type_ = req(r#type) }
});
convert!(pb::UncountedTerminatedPods => oa::UncountedTerminatedPods {
    succeeded: list, failed: list
});
convert!(pb::CronJob => oa::CronJob { metadata: req, spec: opt, status: opt });
convert!(pb::CronJobSpec => oa::CronJobSpec {
    schedule: req, time_zone: opt, starting_deadline_seconds: opt, concurrency_policy: omit,
    suspend: opt, job_template: req, successful_jobs_history_limit: opt,
    failed_jobs_history_limit: opt
});
convert!(pb::JobTemplateSpec => oa::JobTemplateSpec { metadata: opt, spec: opt });
convert!(pb::CronJobStatus => oa::CronJobStatus {
    active: list, last_schedule_time: time, last_successful_time: time
});
