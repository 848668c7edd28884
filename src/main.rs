//! Parse the command line, call `weir::run`, print any error once, exit with its code.

use clap::Parser;

/// mimalloc: the parse-and-map threads allocate and free millions of small values, and glibc's
/// arenas serialise the frees of values made on another thread (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_arena_eager_commit` and `mi_option_purge_delay` in the bundled mimalloc v3
/// (`mimalloc.h`, `mi_option_e`).
const MI_OPTION_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Before anything is allocated (an `.init_array` entry runs before `main` and the Rust runtime):
/// arenas commit memory as it is used, not all at once, and return what is freed after 10 ms
/// (not 1 s), so peak RSS stays what a load holds. Measured by hand (docs/BENCHMARKS.md): with
/// mimalloc's defaults the SQLite load of the 100k benchmark peaked at 45 MB, 27 MB with these;
/// DuckDB's at 1M at 148 MB, 136 MB with these. A delay of 0 cost SQLite's 1M load 20 %.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static LAZY_COMMIT: extern "C" fn() = {
    extern "C" fn lazy_commit() {
        // SAFETY: sets two of mimalloc's options to values it documents (0: no eager commit; a
        // purge delay in milliseconds).
        unsafe {
            mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
            mi_option_set(MI_OPTION_PURGE_DELAY, 10);
        }
    }
    lazy_commit
};

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
