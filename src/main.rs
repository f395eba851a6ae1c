//! The `kubelab` binary: parses the command line and hands over to [`kubelab::cli`].
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    kubelab::telemetry::init();
    let cli = kubelab::cli::Cli::parse();
    match kubelab::cli::run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
