//! Finished runs on disk: `OUT/runs/KEY.json`, read back only when its checksum holds, its
//! configuration matches and it holds every epoch.
//!
//! An entry is the JSON text `T` of a [`RunRecord`] with its closing `}` replaced by
//! `,"content_sha256":"HEX"}`, HEX being the SHA-256 of `T` itself. The check is on the
//! bytes, so any edit (a digit, a space, a reordered key) or truncation is caught, and the
//! file stays plain JSON that any tool can read. An entry that fails any check is reported
//! and its run is done again; it is never used.
//!
//! Entries written before checksums existed (no `content_sha256`) are "unchecked": a sweep
//! that finds them stops and asks (running them again may take hours);
//! `--adopt-unchecked-cache` checks what can be checked (configuration, every epoch
//! present), then gives them a checksum, with their provenance recorded as unknown.

use std::fs;
use std::path::Path;

use ibci_idx::sha256::{sha256, to_hex};
use ibci_nn::atomic::write_atomically;
use serde::Serialize;
use serde_json::Value;

use crate::manifest::Machine;

/// The field that closes every entry.
const CHECKSUM_FIELD: &str = ",\"content_sha256\":\"";

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
    /// Where and with what the run was computed; `None` for entries adopted from before
    /// ibci recorded it.
    pub(super) provenance: Option<Machine>,
}

impl RunRecord {
    /// The entry's bytes: the record's JSON, closed by the checksum of that JSON.
    pub(super) fn to_entry(&self) -> serde_json::Result<String> {
        Ok(seal(&serde_json::to_string(self)?))
    }

    /// The entry's bytes and the result a sweep reads back from them (numbers through their
    /// JSON text, so a resumed sweep, or `--verify`, sees the values this one wrote).
    pub(super) fn as_cached(&self) -> anyhow::Result<(String, RunResult)> {
        let text = self.to_entry()?;
        let result = RunResult::from_json(&serde_json::from_str(&text)?)
            .ok_or_else(|| anyhow::anyhow!("a run's result has no epoch history"))?;
        Ok((text, result))
    }
}

/// `text` (a JSON object) closed by its own checksum.
pub(super) fn seal(text: &str) -> String {
    let body = text.strip_suffix('}').unwrap_or(text);
    format!(
        "{body}{CHECKSUM_FIELD}{}\"}}",
        to_hex(&sha256(text.as_bytes()))
    )
}

/// One finished run, as cached.
#[derive(Clone, Debug)]
pub(super) struct RunResult {
    /// (epoch, train_loss, train_acc, test_loss, test_err), epoch 0 = untrained.
    pub(super) history: Vec<[f64; 5]>,
    /// Wall time of the run, seconds.
    pub(super) seconds: f64,
    /// Where it was computed (`None`: unknown, adopted from an older cache).
    pub(super) provenance: Option<Machine>,
    /// SHA-256 of its final weights, if the entry records it.
    pub(super) weights_sha256: Option<String>,
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
        Some(RunResult {
            history,
            seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
            provenance: serde_json::from_value(v["provenance"].clone())
                .ok()
                .flatten(),
            weights_sha256: v["weights_sha256"].as_str().map(String::from),
        })
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

/// What the cache holds for one run.
#[derive(Debug)]
pub(super) enum Cached {
    /// No entry.
    Missing,
    /// A checked entry.
    Hit(RunResult),
    /// An entry from before checksums: its text, and the result it would give.
    Unchecked(String, RunResult),
    /// An entry that must not be used, and why.
    Bad(String),
}

/// The entry `dir/runs/KEY.json` for configuration `cfg` with `epochs` epochs.
pub(super) fn cached(dir: &Path, cfg: &Value, key: &str, epochs: usize) -> Cached {
    let path = dir.join("runs").join(format!("{key}.json"));
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Cached::Missing,
        Err(e) => return Cached::Bad(format!("unreadable ({e})")),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Cached::Bad("not UTF-8 text".into());
    };
    let checked = match verify(&text) {
        Ok(checked) => checked,
        Err(why) => return Cached::Bad(why.into()),
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Cached::Bad("not valid JSON".into());
    };
    if v["config"] != *cfg {
        return Cached::Bad("its configuration is not the one its name stands for".into());
    }
    let Some(r) = RunResult::from_json(&v) else {
        return Cached::Bad("no readable epoch history".into());
    };
    if r.history.len() != epochs + 1 {
        return Cached::Bad(format!(
            "{} epochs recorded, {epochs} expected",
            r.history.len().saturating_sub(1)
        ));
    }
    if checked {
        Cached::Hit(r)
    } else {
        Cached::Unchecked(text, r)
    }
}

/// Whether sealed `text` holds its checksum: `Ok(true)` if it does, `Ok(false)` if it has
/// none (written before checksums), `Err` if it does not match.
pub(super) fn verify(text: &str) -> Result<bool, &'static str> {
    let Some(at) = text.rfind(CHECKSUM_FIELD) else {
        return Ok(false);
    };
    let stated = text[at + CHECKSUM_FIELD.len()..].strip_suffix("\"}");
    let body = format!("{}}}", &text[..at]);
    if stated != Some(to_hex(&sha256(body.as_bytes())).as_str()) {
        return Err("its content does not match its checksum (edited or corrupt)");
    }
    Ok(true)
}

/// Adopts the unchecked entry `text`, read from `src`: writes it to `dst` sealed with a
/// checksum, its provenance unknown. The text is appended to as written: re-serialising
/// parsed floats could change a digit.
pub(super) fn adopt(text: &str, src: &Path, dst: &Path) -> anyhow::Result<()> {
    let body = serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.get("provenance").is_none())
        .and_then(|_| text.trim_end().strip_suffix('}'))
        .ok_or_else(|| anyhow::anyhow!("{}: cannot be adopted", src.display()))?;
    let sealed = seal(&format!("{body},\"provenance\":null}}"));
    write_atomically(dst, sealed.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        RunRecord {
            config: serde_json::json!({"seed": 3}),
            history: vec![
                [Some(0.0), None, None, Some(2.3), Some(0.9)],
                [Some(1.0), Some(0.5), Some(0.8), Some(0.4), Some(0.1)],
            ],
            seconds: 1.5,
            weights_sha256: "ab".into(),
            provenance: None,
        }
    }

    fn put(dir: &Path, text: &str) {
        fs::create_dir_all(dir.join("runs")).unwrap();
        fs::write(dir.join("runs/k.json"), text).unwrap();
    }

    #[test]
    fn a_sealed_entry_reads_back_and_any_edit_is_caught() {
        let dir = std::env::temp_dir().join(format!("ibci-cache-{}", std::process::id()));
        let cfg = serde_json::json!({"seed": 3});
        let entry = record().to_entry().unwrap();
        assert!(entry.ends_with("\"}"));
        assert!(serde_json::from_str::<Value>(&entry).is_ok());
        put(&dir, &entry);
        assert!(matches!(cached(&dir, &cfg, "k", 1), Cached::Hit(_)));
        assert!(matches!(cached(&dir, &cfg, "k", 2), Cached::Bad(_)));
        assert!(matches!(
            cached(&dir, &serde_json::json!({"seed": 4}), "k", 1),
            Cached::Bad(_)
        ));
        assert!(matches!(cached(&dir, &cfg, "other", 1), Cached::Missing));
        // A changed error rate, and a truncated file.
        put(&dir, &entry.replacen("0.1]", "0.2]", 1));
        assert!(matches!(cached(&dir, &cfg, "k", 1), Cached::Bad(m) if m.contains("checksum")));
        put(&dir, &entry[..entry.len() - 3]);
        assert!(matches!(cached(&dir, &cfg, "k", 1), Cached::Bad(_)));
        // An entry without a checksum is unchecked until adopted; adopting seals it.
        let old = serde_json::to_string(&record())
            .unwrap()
            .replace(",\"provenance\":null", "");
        put(&dir, &old);
        let Cached::Unchecked(text, _) = cached(&dir, &cfg, "k", 1) else {
            panic!("an entry without checksum must be unchecked")
        };
        let path = dir.join("runs/k.json");
        adopt(&text, &path, &path).unwrap();
        assert!(matches!(cached(&dir, &cfg, "k", 1), Cached::Hit(r) if r.provenance.is_none()));
        fs::remove_dir_all(&dir).unwrap();
    }
}
