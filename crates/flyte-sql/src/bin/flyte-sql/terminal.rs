//! Everything the binary prints goes through here: one place that makes text safe for a terminal
//! and handles streams that cannot be written.
//!
//! - Control characters from data, URIs or files (ESC, OSC sequences, carriage returns, C1
//!   controls, bidirectional overrides) are shown escaped (`\x1b`, `\u{9b}`), never sent raw;
//!   the data itself (Parquet, TaskTemplates) is unchanged.
//! - Standard output that cannot be written is a [`StdoutError`]: a closed pipe ends the command
//!   quietly with success (its work is done when it prints), anything else (a full disk) is an
//!   error with exit status 1.
//! - Standard error is written on a best-effort basis: when it cannot be written there is nowhere
//!   to report that, and the exit status still tells the outcome.
//! - Every line, on both streams and in the log, first passes through the run's one [`Redactor`]
//!   (installed by [`connect_options`] as soon as the connection's secrets are known), so a
//!   server's or driver's message that echoes a secret never shows it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::RwLock;

use flyte_sql_config::{ConnectOptions, ConnectionConfig, Redactor, ResolvedSecrets};

/// The redactor of this process's run; none before a connection is configured.
static REDACTOR: RwLock<Option<Redactor>> = RwLock::new(None);

/// Resolves `config`'s secret connect args as flytekit does and returns the connect options; from
/// the moment the URI is known (before the secrets are read, whose errors could quote them) every
/// message the process prints, and [`redacted`], hide the URI's password and each secret value.
pub(crate) fn connect_options(config: &ConnectionConfig) -> anyhow::Result<ConnectOptions> {
    install(Redactor::for_connection(
        config,
        &ResolvedSecrets::default(),
    ));
    let secrets = flyte_sql_executor::resolve_secrets(config)?;
    install(Redactor::for_connection(config, &secrets));
    config.check_connect_args()?;
    Ok(config.resolved_options(&secrets)?)
}

fn install(redactor: Redactor) {
    // A poisoned lock only means a thread panicked while printing: the value is still whole.
    *REDACTOR
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(redactor);
}

/// `text` with the run's secret values replaced by `***` (unchanged before a connection is
/// configured): for the error document, which leaves the process without being printed.
pub(crate) fn redacted(text: &str) -> Cow<'_, str> {
    let guard = REDACTOR
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match guard.as_ref() {
        Some(redactor) => Cow::Owned(redactor.redact(text).into_owned()),
        None => Cow::Borrowed(text),
    }
}

/// Text as it may leave the process: secrets redacted, then control characters escaped.
fn safe(text: &str, lines: Lines) -> String {
    escape_controls(&redacted(text), lines).into_owned()
}

/// What to do with line breaks and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    /// Keep `\n` and `\t` (messages, SQL, JSON).
    Keep,
    /// Escape them too (a table cell, which must stay on its line).
    Escape,
}

/// `text` with every character that could move the cursor, recolour or retitle a terminal, or
/// reorder what it shows, written as a visible escape.
pub(crate) fn escape_controls(text: &str, lines: Lines) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        let kept = lines == Lines::Keep && matches!(c, '\n' | '\t');
        !kept && (c.is_control() || is_bidi_control(c))
    };
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            escaped.push(c);
        } else if c == '\n' {
            escaped.push_str("\\n");
        } else if c == '\t' {
            escaped.push_str("\\t");
        } else if c.is_ascii() {
            let _ = write!(escaped, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(escaped)
}

/// The Unicode bidirectional embeddings, overrides and isolates, which reorder the text around
/// them on screen.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Standard output could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output")]
pub(crate) struct StdoutError(#[source] pub(crate) std::io::Error);

impl StdoutError {
    /// Whether the reader went away (`| head`): not a failure of the command.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// Prints `line` and a line break on standard output, control characters escaped.
pub(crate) fn print_line(line: &str) -> Result<(), StdoutError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(safe(line, Lines::Keep).as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
        .map_err(StdoutError)
}

/// Prints `line` and a line break on standard error, control characters escaped; best effort.
pub(crate) fn eprint_line(line: &str) {
    let mut text = safe(line, Lines::Keep);
    text.push('\n');
    write_stderr(text.as_bytes());
}

/// Writes bytes the binary composed itself (the progress line's own terminal codes) to standard
/// error; best effort.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(bytes).and_then(|()| stderr.flush());
}

/// The log's writer: standard error with control characters escaped, write errors ignored (the
/// log must never take the command down).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_stderr(safe(&String::from_utf8_lossy(buf), Lines::Keep).as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_line_breaks_kept_or_not() {
        let hostile = "a\u{1b}]0;pwned\u{7}b\rc\u{9b}31m\u{202e}d\ne\tf";
        assert_eq!(
            escape_controls(hostile, Lines::Keep),
            "a\\x1b]0;pwned\\x07b\\x0dc\\u{9b}31m\\u{202e}d\ne\tf"
        );
        assert_eq!(escape_controls("x\ny\tz", Lines::Escape), "x\\ny\\tz");
        assert!(matches!(
            escape_controls("plain ünïcode", Lines::Escape),
            Cow::Borrowed(_)
        ));
    }
}
