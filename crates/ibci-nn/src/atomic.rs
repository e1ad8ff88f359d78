//! Writing a file so that a reader sees the old contents or the new, never a part: a
//! temporary file beside it, fsync, rename over the target, fsync of the directory. Used for
//! checkpoints here and for every output file of the `ibci` binary (manifests, tables,
//! weights, cache entries).

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A failed atomic write, naming the file.
#[derive(Debug)]
pub struct WriteError {
    /// The file being written.
    pub path: PathBuf,
    /// What went wrong.
    pub source: std::io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The OS error is the source, printed by whoever walks the chain (`{:#}`), not here.
        write!(f, "writing {}", self.path.display())
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, directory fsync.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        // Leave nothing behind: the target keeps its old contents (or stays absent).
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_names_its_cause_once() {
        let dir = std::env::temp_dir().join(format!("ibci-atomic-{}", std::process::id()));
        // The target is a non-empty directory: the rename over it fails.
        let target = dir.join("out");
        fs::create_dir_all(target.join("inside")).unwrap();
        let e = write_atomically(&target, b"bytes").unwrap_err();
        assert_eq!(e.to_string(), format!("writing {}", target.display()));
        let chain = anyhow_like(&e);
        assert_eq!(chain.matches("(os error").count(), 1, "{chain}");
        assert!(
            !target.with_extension("tmp").exists(),
            "temporary file left behind"
        );
        // And a good write replaces the file whole.
        let file = dir.join("f.json");
        write_atomically(&file, b"one").unwrap();
        write_atomically(&file, b"two").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert!(!file.with_extension("tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// The error and its sources joined by ": ", as the binary prints them.
    fn anyhow_like(e: &dyn std::error::Error) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(c) = cur {
            s += &format!(": {c}");
            cur = c.source();
        }
        s
    }
}
