//! Parse the command line, call `weir::run`, print any error once, exit with its code.

use clap::Parser;

fn main() {
    let cli = weir::cli::Cli::parse();
    let code = match weir::run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
