//! End-to-end tests: the real `batchlet` binary on a free loopback port, driven by the real
//! `kubectl`. One test binary (see `autotests = false`).
//!
//! Without kubectl the tests print why and pass, unless `BATCHLET_REQUIRE_KUBECTL=1` (CI),
//! where a missing kubectl fails them.

mod harness;

mod access;
mod client;

mod apply;
mod auth;
mod bench;
mod cronjob;
mod discovery;
mod errors;
mod examples;
mod gc;
mod get;
mod job;
mod job_real;
mod leases;
mod load;
mod pods;
mod protobuf;
mod restart;
mod run;
mod seed;
mod ssa;
mod torture;
