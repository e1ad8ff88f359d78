//! Finished runs on disk: `OUT/runs/KEY.json`, read back only when its configuration
//! matches and it holds every epoch.

use std::fs;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// One finished run as the cache file `runs/KEY.json` holds it (fields in this order, as
/// always: a resumed sweep reads back exactly what was written).
#[derive(Serialize, Debug)]
pub(super) struct RunRecord {
    /// The run's configuration (its key is this JSON's digest).
    pub(super) config: Value,
    /// Per epoch (epoch, train_loss, train_acc, test_loss, test_err); `null` for what epoch
    /// 0 does not have.
    pub(super) history: Vec<[Option<f64>; 5]>,
    /// Wall time of the run.
    pub(super) seconds: f64,
    /// SHA-256 of its final weights (safetensors).
    pub(super) weights_sha256: String,
}

/// One finished run, as cached.
#[derive(Clone, Debug)]
pub(super) struct RunResult {
    /// (epoch, train_loss, train_acc, test_loss, test_err), epoch 0 = untrained.
    pub(super) history: Vec<[f64; 5]>,
}

impl RunResult {
    pub(super) fn from_json(v: &Value) -> Option<RunResult> {
        let history = v["history"]
            .as_array()?
            .iter()
            .map(|row| {
                let r = row.as_array()?;
                let mut out = [0f64; 5];
                for (o, x) in out.iter_mut().zip(r) {
                    *o = x.as_f64().unwrap_or(f64::NAN);
                }
                (r.len() == 5).then_some(out)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(RunResult { history })
    }

    /// (minimal test error, its epoch) over epochs 1.. (the first minimum).
    pub(super) fn best(&self) -> (f64, f64) {
        self.history[1..]
            .iter()
            .fold((f64::INFINITY, 0.0), |(b, e), r| {
                if r[4] < b {
                    (r[4], r[0])
                } else {
                    (b, e)
                }
            })
    }

    pub(super) fn last(&self) -> f64 {
        self.history.last().map_or(f64::NAN, |r| r[4])
    }
}

pub(super) fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// The result cached under `dir/runs/KEY.json`, if that file parses, was made with `cfg` and
/// holds every epoch.
pub(super) fn cached(dir: &Path, cfg: &Value, key: &str, epochs: usize) -> Option<RunResult> {
    let v = read_json(&dir.join("runs").join(format!("{key}.json")))?;
    (v["config"] == *cfg)
        .then(|| RunResult::from_json(&v))
        .flatten()
        .filter(|r| r.history.len() == epochs + 1)
}
