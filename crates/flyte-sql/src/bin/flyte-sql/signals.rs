//! What the binary does when it is told to stop: on SIGINT, SIGTERM or SIGHUP a thread removes
//! every temporary file the command is writing (see `flyte_sql_storage::abandon_temporary_files`)
//! and exits with 128 + the signal's number (130, 143, 129), as a shell reports a process killed
//! by it. A file already committed stays: it is complete.
//!
//! SIGXFSZ (a file grew past `ulimit -f`) is caught and ignored, so the write fails with EFBIG
//! and the command reports it and cleans up like any other failed write instead of dying.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGXFSZ};
use signal_hook::iterator::Signals;

/// Starts the signal thread; a failure to install it is reported and the command goes on
/// without it.
pub(crate) fn install() {
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP, SIGXFSZ]) {
        Ok(signals) => signals,
        Err(error) => {
            tracing::warn!(%error, "cannot handle signals: a stopped command may leave temporary files");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGXFSZ {
                    continue;
                }
                let held = flyte_sql_storage::abandon_temporary_files();
                crate::terminal::eprint_line(&format!(
                    "flyte-sql: stopped by {}; its temporary files were removed",
                    name(signal)
                ));
                // Exits with the registry held: no file can be committed after the cleanup.
                let _held = held;
                std::process::exit(128 + signal);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot handle signals: a stopped command may leave temporary files");
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
