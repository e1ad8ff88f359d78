//! Usage errors: flags that are wrong on their own or together, found after clap's parse but
//! before any work. `main` exits with status 2 for them (1 is for failed work).

use std::fmt;

/// A bad flag value or combination, with the message naming it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `e` (with its context chain) as a usage error.
pub fn usage(e: impl Into<anyhow::Error>) -> anyhow::Error {
    UsageError(format!("{:#}", e.into())).into()
}
