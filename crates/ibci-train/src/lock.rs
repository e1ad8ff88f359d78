//! One writer per output: `train` and `reproduce` lock `OUT/.ibci.lock`, `init` locks
//! `FILE.lock`, with the operating system's advisory file lock (`File::try_lock`: `flock` on
//! Unix), holding the process id for the message. A second process on the same output is
//! refused with the holder named; the lock goes with the process that held it, so one left by
//! a killed process is simply taken. The lock file itself stays (deleting it would let a
//! process that opened the old one lock a file nobody else sees).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutLock {
    _file: File,
}

impl OutLock {
    /// Takes the lock at `path` for this process, or says who holds it.
    pub fn take(path: &Path, what: &str) -> Result<OutLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening the lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                bail!(
                    "{what} is in use by another ibci (process {}; lock {}): wait for it to finish, \
                     or write somewhere else",
                    if holder.is_empty() { "unknown" } else { holder },
                    path.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .with_context(|| format!("writing the lock {}", path.display()))?;
        Ok(OutLock { _file: file })
    }
}
