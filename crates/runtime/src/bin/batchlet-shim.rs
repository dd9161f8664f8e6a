//! A standalone shim executable (`batchlet-shim STATE_DIR`), equivalent to `batchlet shim
//! STATE_DIR`: used by the runtime's tests and wherever a smaller binary than batchlet is
//! wanted for the supervisor.

fn main() -> std::process::ExitCode {
    runtime::shim::main(std::env::args_os().skip(1))
}
