//! Dataset fingerprints and lineage: the role DVC plays for the reference system.
//!
//! Every dataset modelops reads or writes gets a SHA-256 of its file bytes (hardware-accelerated where the CPU has
//! SHA extensions, ~1–2 GB/s) recorded in `data/manifest.json`: path relative to the data directory, hash, size,
//! rows, columns, creation time, the producing command and the hashes of its inputs at that time. An output is
//! *fresh* when its file still has the recorded hash and every input still has the hash it had when the output was
//! made; otherwise it is *stale* and the reasons say why.
//!
//! Writes are atomic (temporary file + rename) and merge with the manifest on disk, so two commands recording
//! different outputs do not lose each other's entries.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// File name of the manifest inside the data directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Content hash and size of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Lower-case hex SHA-256 of the file bytes.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
}

/// A reader that hashes every byte passing through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The fingerprint of everything read so far.
    pub fn finish(self) -> Fingerprint {
        Fingerprint {
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Hashes the bytes of the file at `path`.
///
/// # Errors
/// [`DataError::NotFound`] or [`DataError::Io`].
pub fn fingerprint(path: &Path) -> Result<Fingerprint> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.into(),
            hint: "check the path".into(),
        },
        _ => DataError::io(path, e),
    })?;
    let mut reader = HashingReader::new(file);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
    }
    Ok(reader.finish())
}

/// An input of a recorded output, with its hash at the time the output was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// Path relative to the data directory (absolute when outside it).
    pub path: String,
    /// Its SHA-256 then.
    pub sha256: String,
}

/// One dataset in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the data directory (absolute when outside it).
    pub path: String,
    /// SHA-256 of the file bytes.
    pub sha256: String,
    /// File size.
    pub bytes: u64,
    /// Data rows, when known.
    pub rows: Option<u64>,
    /// Column names in order, when known.
    pub columns: Option<Vec<String>>,
    /// When the entry was recorded (RFC 3339, UTC).
    pub created: String,
    /// The command that produced the file (`modelops data ingest`), or `source` for an input nobody produced.
    pub command: String,
    /// Inputs and their hashes when this file was produced.
    #[serde(default)]
    pub inputs: Vec<InputRef>,
}

/// Rows and columns of a dataset, recorded beside its hash.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    /// Data rows.
    pub rows: Option<u64>,
    /// Column names.
    pub columns: Option<Vec<String>>,
}

impl Shape {
    /// A known shape.
    pub fn new(rows: usize, columns: Vec<String>) -> Self {
        Self {
            rows: Some(rows as u64),
            columns: Some(columns),
        }
    }
}

/// Whether a recorded output can be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The file and all its inputs have the recorded hashes.
    Fresh,
    /// Something changed; each reason names a file.
    Stale(Vec<String>),
    /// The manifest has an entry but the file is gone.
    Missing,
    /// The manifest has no entry for the file.
    Untracked,
}

impl Freshness {
    /// One word for tables: `fresh`, `stale`, `missing`, `untracked`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale(_) => "stale",
            Self::Missing => "missing",
            Self::Untracked => "untracked",
        }
    }
}

/// The on-disk form of `manifest.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ManifestFile {
    /// Format version.
    version: u32,
    /// Entries by relative path.
    datasets: BTreeMap<String, Entry>,
}

/// The manifest of one data directory.
#[derive(Clone, Debug)]
pub struct Manifest {
    data_dir: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl Manifest {
    /// Loads `data_dir/manifest.json`; an absent file gives an empty manifest.
    ///
    /// # Errors
    /// [`DataError::Manifest`] when the file exists but is not a valid manifest.
    pub fn load(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(MANIFEST_FILE);
        let entries = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: ManifestFile = serde_json::from_slice(&bytes).map_err(|e| DataError::Manifest {
                    path: path.clone(),
                    message: format!("not a valid manifest ({e}); delete it and re-run `modelops data ingest`"),
                })?;
                file.datasets
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(DataError::io(&path, e)),
        };
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            entries,
        })
    }

    /// The data directory this manifest describes.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// All entries, by relative path.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The entry of `path` (absolute, or relative to the data directory), if recorded.
    pub fn get(&self, path: &Path) -> Option<&Entry> {
        self.entries.get(&self.key(path))
    }

    /// The manifest key of `path`: relative to the data directory when inside it, else absolute.
    pub fn key(&self, path: &Path) -> String {
        let base = canonical(&self.data_dir);
        let full = canonical(&if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.data_dir.join(path)
        });
        match full.strip_prefix(&base) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => full.to_string_lossy().into_owned(),
        }
    }

    fn resolve(&self, key: &str) -> PathBuf {
        let p = Path::new(key);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }

    /// Records `output` as produced by `command` from `inputs`, hashing all of them, and saves the manifest.
    /// Inputs not yet in the manifest are recorded as sources. Rows and columns are read from parquet metadata or
    /// counted in CSV files.
    ///
    /// # Errors
    /// [`DataError::NotFound`]/[`DataError::Io`] for unreadable files, [`DataError::Manifest`] if saving fails.
    pub fn record(&mut self, output: &Path, command: &str, inputs: &[&Path]) -> Result<Entry> {
        let shape = shape_of(output)?;
        let hash = fingerprint(output)?;
        let inputs: Vec<(&Path, Fingerprint)> = inputs
            .iter()
            .map(|p| fingerprint(p).map(|f| (*p, f)))
            .collect::<Result<_>>()?;
        self.record_known(output, &hash, shape, command, &inputs)
    }

    /// Like [`Manifest::record`] with hashes and shape the caller already has (e.g. from [`crate::RawTable`]),
    /// so big files are not read twice.
    ///
    /// # Errors
    /// [`DataError::Manifest`] if saving fails.
    pub fn record_known(
        &mut self,
        output: &Path,
        hash: &Fingerprint,
        shape: Shape,
        command: &str,
        inputs: &[(&Path, Fingerprint)],
    ) -> Result<Entry> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut input_refs = Vec::with_capacity(inputs.len());
        for (path, fp) in inputs {
            let key = self.key(path);
            let known = self
                .entries
                .get(&key)
                .is_some_and(|e| e.sha256 == fp.sha256);
            if !known {
                let shape = shape_of(path).unwrap_or_default();
                self.insert(Entry {
                    path: key.clone(),
                    sha256: fp.sha256.clone(),
                    bytes: fp.bytes,
                    rows: shape.rows,
                    columns: shape.columns,
                    created: now.clone(),
                    command: "source".into(),
                    inputs: Vec::new(),
                });
            }
            input_refs.push(InputRef {
                path: key,
                sha256: fp.sha256.clone(),
            });
        }
        let entry = Entry {
            path: self.key(output),
            sha256: hash.sha256.clone(),
            bytes: hash.bytes,
            rows: shape.rows,
            columns: shape.columns,
            created: now,
            command: command.to_string(),
            inputs: input_refs,
        };
        self.insert(entry.clone());
        self.save()?;
        Ok(entry)
    }

    /// Records a source dataset (one nobody in modelops produced, e.g. the Kaggle files) and saves.
    ///
    /// # Errors
    /// As [`Manifest::record_known`].
    pub fn record_source(
        &mut self,
        path: &Path,
        hash: &Fingerprint,
        shape: Shape,
    ) -> Result<Entry> {
        self.record_known(path, hash, shape, "source", &[])
    }

    fn insert(&mut self, entry: Entry) {
        self.entries.insert(entry.path.clone(), entry);
    }

    /// Writes the manifest atomically, merged with entries another process saved meanwhile (ours win).
    ///
    /// # Errors
    /// [`DataError::Manifest`] or [`DataError::Io`].
    pub fn save(&mut self) -> Result<()> {
        let path = self.data_dir.join(MANIFEST_FILE);
        if let Ok(on_disk) = Self::load(&self.data_dir) {
            for (k, v) in on_disk.entries {
                self.entries.entry(k).or_insert(v);
            }
        }
        std::fs::create_dir_all(&self.data_dir).map_err(|e| DataError::io(&self.data_dir, e))?;
        let file = ManifestFile {
            version: 1,
            datasets: self.entries.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| DataError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tmp = self
            .data_dir
            .join(format!(".{MANIFEST_FILE}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text + "\n").map_err(|e| DataError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| DataError::io(&path, e))
    }

    /// Whether `output` is fresh: its file has the recorded hash and so does every input.
    ///
    /// # Errors
    /// [`DataError::Io`] when a file exists but cannot be read.
    pub fn is_fresh(&self, output: &Path) -> Result<Freshness> {
        let Some(entry) = self.get(output) else {
            return Ok(Freshness::Untracked);
        };
        self.freshness_of(entry)
    }

    fn freshness_of(&self, entry: &Entry) -> Result<Freshness> {
        let path = self.resolve(&entry.path);
        if !path.is_file() {
            return Ok(Freshness::Missing);
        }
        let mut reasons = Vec::new();
        if fingerprint(&path)?.sha256 != entry.sha256 {
            reasons.push(format!("{} changed since it was recorded", entry.path));
        }
        for input in &entry.inputs {
            let p = self.resolve(&input.path);
            if !p.is_file() {
                reasons.push(format!("input {} is missing", input.path));
            } else if fingerprint(&p)?.sha256 != input.sha256 {
                reasons.push(format!("input {} changed", input.path));
            }
        }
        Ok(if reasons.is_empty() {
            Freshness::Fresh
        } else {
            Freshness::Stale(reasons)
        })
    }

    /// The freshness of every recorded dataset, in path order.
    ///
    /// # Errors
    /// As [`Manifest::is_fresh`].
    pub fn status(&self) -> Result<Vec<(Entry, Freshness)>> {
        self.entries
            .values()
            .map(|e| self.freshness_of(e).map(|f| (e.clone(), f)))
            .collect()
    }
}

/// `path` made absolute with symlinks resolved as far as it exists (a missing file keeps its name under its
/// resolved parent), so one file always gets one manifest key.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => canonical(parent).join(name),
        _ => abs,
    }
}

/// Rows and columns of a parquet file (from its metadata) or a CSV file (counted); unknown for other files.
///
/// # Errors
/// [`DataError::Io`] or [`DataError::Polars`] when the file cannot be read.
pub fn shape_of(path: &Path) -> Result<Shape> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".parquet") {
        use polars::prelude::*;
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut reader = ParquetReader::new(file);
        let ctx = || format!("reading parquet metadata of {}", path.display());
        let rows = reader.num_rows().map_err(|e| DataError::polars(ctx(), e))?;
        let schema = reader.schema().map_err(|e| DataError::polars(ctx(), e))?;
        let columns = schema.iter_names().map(|n| n.to_string()).collect();
        Ok(Shape::new(rows, columns))
    } else if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        let bytes = crate::table::read_maybe_gzip(path)?;
        let mut lines = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
        let header = lines.next().map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .split(',')
                .map(|c| c.trim_matches('"').to_string())
                .collect()
        });
        let rows = lines.count();
        Ok(Shape {
            rows: Some(rows as u64),
            columns: header,
        })
    } else {
        Ok(Shape::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_of_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        std::fs::write(&p, b"abc").unwrap();
        let f = fingerprint(&p).unwrap();
        assert_eq!(
            f.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(f.bytes, 3);
    }

    #[test]
    fn output_goes_stale_when_an_input_changes() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        let output = dir.path().join("out.csv");
        std::fs::write(&input, "a\n1\n").unwrap();
        std::fs::write(&output, "a\n2\n").unwrap();
        let mut m = Manifest::load(dir.path()).unwrap();
        m.record(&output, "test", &[&input]).unwrap();
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m.is_fresh(&output).unwrap(), Freshness::Fresh);
        assert_eq!(m.get(&output).unwrap().rows, Some(1));
        std::fs::write(&input, "a\n3\n").unwrap();
        assert!(
            matches!(m.is_fresh(&output).unwrap(), Freshness::Stale(r) if r[0].contains("in.csv"))
        );
        std::fs::remove_file(&output).unwrap();
        assert_eq!(m.is_fresh(&output).unwrap(), Freshness::Missing);
        assert_eq!(
            m.is_fresh(&dir.path().join("other")).unwrap(),
            Freshness::Untracked
        );
    }
}
