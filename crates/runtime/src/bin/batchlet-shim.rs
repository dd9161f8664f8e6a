//! A standalone launcher of shims (`batchlet-shim STATE_ROOT`), equivalent to `batchlet shim
//! STATE_ROOT`: used by the runtime's tests and wherever a smaller binary than batchlet is
//! wanted for the supervisors.

fn main() -> std::process::ExitCode {
    runtime::shim::main(std::env::args_os().skip(1))
}
