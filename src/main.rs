use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    hytune::malloc::tune();
    if let Err(e) = hytune::engine::backend::pin_default_device() {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let cli = hytune::cli::Cli::parse();
    match hytune::cli::main_with(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Config mistakes exit 2, like command-line mistakes; other failures 1.
            if e.chain().any(|c| c.is::<hytune::config::ConfigError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
