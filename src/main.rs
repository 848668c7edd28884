//! Parse the command line, call `weir::run`, print any error once, exit with its code.

use clap::Parser;

fn main() {
    let cli = match weir::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print and succeed; a bad command line is the user's to
            // fix (exit 1), unlike clap's default of 2, which weir keeps for its own failures.
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let code = match weir::run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
