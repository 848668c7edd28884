//! `weir completions <bash|zsh|fish>`: writes the shell's completion script of weir's command
//! line (made by clap_complete from `cli.rs`, so it names every subcommand and flag) to stdout.
//! It reads no project folder and writes no file.

use std::io::Write;

use crate::error::Result;

/// `script` is the shell's script, as `cli::completions` makes it.
pub fn run(script: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(script).and_then(|()| out.flush()) {
        // `weir completions bash | head` is no failure (STYLE.md: a broken pipe exits 0).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::from(e)
            .context("cannot write the completion script to stdout")
            .into()),
        Ok(()) => Ok(()),
    }
}
