//! Training checkpoints: the model, the optimiser state and the metrics so far, written
//! atomically after every epoch and verified on load.
//!
//! The RNG state needs no bytes: the shuffle of epoch `e` comes from
//! [`crate::train::shuffle_stream`]`(seed, e)`, a pure function of the seed and the epoch, so
//! a checkpoint's `(seed in its fingerprint, epoch)` determines every random number to come.
//!
//! Format, little-endian throughout:
//!
//! ```text
//! "IBCICKPT"  u32 version (1)
//! u32 n, n bytes   fingerprint: the run's configuration as text (compared on resume)
//! u64              epochs completed
//! u32 layers, then per layer: u32 rows, u32 cols, u8 activation, rows*cols f32 w, cols f32 b
//! u8 momentum buffers present; if 1, per layer: rows*cols f32, cols f32
//! u32 n, then n metrics rows: u64 epoch, f64 train_loss, train_acc, test_loss, test_err, seconds
//! [u8; 32]         SHA-256 of every byte before it
//! ```
//!
//! Writing goes to a temporary file that is fsynced and renamed over the old checkpoint (and
//! the directory fsynced), so a crash leaves the previous checkpoint or the new one, never a
//! mix. Loading checks the magic, version, every length against the bytes actually there,
//! and the digest, and returns a typed error otherwise.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use ibci_kernels::{Activation, Mat};
use sha2::{Digest, Sha256};

use crate::atomic::write_atomically;
use crate::mlp::{Layer, Mlp};
use crate::train::{EpochMetrics, SgdState};

const MAGIC: &[u8; 8] = b"IBCICKPT";
const VERSION: u32 = 1;

/// Everything needed to continue a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The run's configuration as text; a resumed run must present the same.
    pub fingerprint: String,
    /// Epochs completed.
    pub epoch: u64,
    /// The network after `epoch` epochs.
    pub mlp: Mlp,
    /// The optimiser's state.
    pub state: SgdState,
    /// Metrics of epochs 0..=epoch.
    pub history: Vec<EpochMetrics>,
}

/// Why a checkpoint could not be written, read or used.
#[derive(Debug)]
pub enum CheckpointError {
    /// An operating-system error.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a valid checkpoint (bad magic, truncated, bad digest, bad values).
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint was written by another format version.
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The checkpoint belongs to a run with another configuration.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The checkpoint's configuration.
        checkpoint: String,
        /// The configuration asked for now.
        requested: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The OS error is the source (see `source`), not repeated here.
            CheckpointError::Io { path, .. } => {
                write!(f, "{}: reading or writing the checkpoint", path.display())
            }
            CheckpointError::Corrupt { path, detail } => write!(
                f,
                "{}: corrupt checkpoint ({detail}); it was not used. HINT: delete it to start the run afresh",
                path.display()
            ),
            CheckpointError::Version { path, found } => write!(
                f,
                "{}: checkpoint format version {found}, this ibci reads version {VERSION}",
                path.display()
            ),
            CheckpointError::Mismatch {
                path,
                checkpoint,
                requested,
            } => write!(
                f,
                "{}: the checkpoint belongs to another run configuration\n  checkpoint: {checkpoint}\n  requested:  {requested}\nHINT: resume with the original flags (only --epochs may grow), or use another --out",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn act_code(a: Activation) -> u8 {
    match a {
        Activation::Identity => 0,
        Activation::Relu => 1,
        Activation::Tanh => 2,
        Activation::Sigmoid => 3,
    }
}

fn put_f32s(out: &mut Vec<u8>, v: &[f32]) {
    v.iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
}

/// The checkpoint as bytes (format in the module docs).
pub fn encode(c: &Checkpoint) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(c.fingerprint.len() as u32).to_le_bytes());
    out.extend_from_slice(c.fingerprint.as_bytes());
    out.extend_from_slice(&c.epoch.to_le_bytes());
    out.extend_from_slice(&(c.mlp.layers.len() as u32).to_le_bytes());
    for l in &c.mlp.layers {
        out.extend_from_slice(&(l.w.rows() as u32).to_le_bytes());
        out.extend_from_slice(&(l.w.cols() as u32).to_le_bytes());
        out.push(act_code(l.act));
        put_f32s(&mut out, l.w.as_slice());
        put_f32s(&mut out, &l.b);
    }
    out.push(u8::from(!c.state.velocity.is_empty()));
    for (vw, vb) in &c.state.velocity {
        put_f32s(&mut out, vw);
        put_f32s(&mut out, vb);
    }
    out.extend_from_slice(&(c.history.len() as u32).to_le_bytes());
    for m in &c.history {
        out.extend_from_slice(&(m.epoch as u64).to_le_bytes());
        for v in [
            m.train_loss,
            m.train_acc,
            m.test_loss,
            m.test_err,
            m.seconds,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let digest = sha256(&out);
    out.extend_from_slice(&digest);
    out
}

/// A bounds-checked reader over checkpoint bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn corrupt(&self, detail: impl Into<String>) -> CheckpointError {
        CheckpointError::Corrupt {
            path: self.path.to_path_buf(),
            detail: detail.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], CheckpointError> {
        if self.bytes.len() - self.at < n {
            return Err(self.corrupt(format!(
                "truncated: {what} needs {n} bytes at offset {}, {} left",
                self.at,
                self.bytes.len() - self.at
            )));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> Result<u8, CheckpointError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, CheckpointError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, CheckpointError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn f64(&mut self, what: &str) -> Result<f64, CheckpointError> {
        Ok(f64::from_bits(self.u64(what)?))
    }

    /// `n` f32s, checked against the bytes left before allocating.
    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>, CheckpointError> {
        let bytes = n
            .checked_mul(4)
            .ok_or_else(|| self.corrupt(format!("{what}: size overflows")))?;
        let b = self.take(bytes, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Parses checkpoint bytes; `path` names the source in errors.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
    let mut r = Reader { bytes, at: 0, path };
    if bytes.len() < 8 + 4 + 32 || &bytes[..8] != MAGIC {
        return Err(r.corrupt("not an ibci checkpoint (bad magic or too short)"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if sha256(body) != digest {
        return Err(r.corrupt(format!(
            "SHA-256 of the contents is {}, the file says {}",
            to_hex(&sha256(body)),
            to_hex(digest)
        )));
    }
    r.bytes = body;
    r.at = 8;
    let version = r.u32("version")?;
    if version != VERSION {
        return Err(CheckpointError::Version {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let n = r.u32("fingerprint length")? as usize;
    let fingerprint = String::from_utf8(r.take(n, "fingerprint")?.to_vec())
        .map_err(|_| r.corrupt("fingerprint is not UTF-8"))?;
    let epoch = r.u64("epoch")?;
    let layers = r.u32("layer count")? as usize;
    if layers == 0 {
        return Err(r.corrupt("a network without layers"));
    }
    let mut mlp = Mlp { layers: Vec::new() };
    for l in 0..layers {
        let rows = r.u32("rows")? as usize;
        let cols = r.u32("cols")? as usize;
        let act = match r.u8("activation")? {
            0 => Activation::Identity,
            1 => Activation::Relu,
            2 => Activation::Tanh,
            3 => Activation::Sigmoid,
            c => return Err(r.corrupt(format!("layer {l}: unknown activation code {c}"))),
        };
        let w = r.f32s(rows.saturating_mul(cols), "weights")?;
        let b = r.f32s(cols, "biases")?;
        mlp.layers.push(Layer {
            w: Mat::from_vec(rows, cols, w),
            b,
            act,
        });
    }
    let mut state = SgdState {
        velocity: Vec::new(),
    };
    match r.u8("momentum flag")? {
        0 => {}
        1 => {
            for l in 0..layers {
                let (rows, cols) = (mlp.layers[l].w.rows(), mlp.layers[l].w.cols());
                let vw = r.f32s(rows * cols, "weight velocity")?;
                let vb = r.f32s(cols, "bias velocity")?;
                state.velocity.push((vw, vb));
            }
        }
        f => return Err(r.corrupt(format!("momentum flag {f}"))),
    }
    let n = r.u32("history length")? as usize;
    let mut history = Vec::new();
    for _ in 0..n {
        let e = r.u64("history epoch")? as usize;
        let mut v = [0f64; 5];
        for x in &mut v {
            *x = r.f64("history value")?;
        }
        history.push(EpochMetrics {
            epoch: e,
            train_loss: v[0],
            train_acc: v[1],
            test_loss: v[2],
            test_err: v[3],
            seconds: v[4],
        });
    }
    if r.at != r.bytes.len() {
        return Err(r.corrupt(format!("{} trailing bytes", r.bytes.len() - r.at)));
    }
    Ok(Checkpoint {
        fingerprint,
        epoch,
        mlp,
        state,
        history,
    })
}

/// Saves a checkpoint atomically.
pub fn save(path: &Path, c: &Checkpoint) -> Result<(), CheckpointError> {
    write_atomically(path, &encode(c)).map_err(|e| CheckpointError::Io {
        path: e.path,
        source: e.source,
    })
}

/// Loads and verifies a checkpoint, and checks that it belongs to `fingerprint`'s run.
pub fn load(path: &Path, fingerprint: &str) -> Result<Checkpoint, CheckpointError> {
    let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let c = decode(&bytes, path)?;
    if c.fingerprint != fingerprint {
        return Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            checkpoint: c.fingerprint,
            requested: fingerprint.to_string(),
        });
    }
    Ok(c)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn to_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
