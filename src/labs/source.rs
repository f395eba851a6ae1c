//! Where lab files come from: the `labs/` folder embedded in the binary or a folder on disk,
//! behind one small interface so both are loaded and validated by the same code.

use std::collections::BTreeMap;
use std::path::Path;

use rust_embed::RustEmbed;

/// The `labs/` folder, built into release binaries (debug builds read it from disk).
/// `allow_missing` keeps the crate compiling before any lab exists; an empty folder is then
/// reported by validation as "no labs".
#[derive(RustEmbed)]
#[folder = "labs/"]
#[allow_missing = true]
struct EmbeddedLabs;

/// Every file of a labs folder, read into memory: path relative to the folder (`/`-separated)
/// to its bytes. Labs are small, and reading once keeps validation free of I/O errors midway.
#[derive(Debug, Default)]
pub struct Files {
    files: BTreeMap<String, Vec<u8>>,
}

/// A labs folder that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ReadError {
    /// The path that failed.
    pub path: String,
    /// Why.
    pub source: std::io::Error,
}

impl Files {
    /// The embedded `labs/` folder.
    pub fn embedded() -> Files {
        let files = EmbeddedLabs::iter()
            .filter(|path| !is_hidden(path))
            .filter_map(|path| {
                EmbeddedLabs::get(&path).map(|file| (path.into_owned(), file.data.into_owned()))
            })
            .collect();
        Files { files }
    }

    /// Every file under `dir`, recursively. Hidden files and folders (`.git`, `.DS_Store`)
    /// are skipped.
    pub fn from_dir(dir: &Path) -> Result<Files, ReadError> {
        let mut files = BTreeMap::new();
        read_dir(dir, "", &mut files)?;
        Ok(Files { files })
    }

    /// Files from memory (tests).
    pub fn from_memory<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Files {
        Files {
            files: files
                .into_iter()
                .map(|(p, c)| (p.to_owned(), c.as_bytes().to_vec()))
                .collect(),
        }
    }

    /// All paths, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Whether `path` exists.
    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// The bytes of `path`.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
}

/// The 1-based line of byte `at` in `bytes` (text that may not be UTF-8 past that point): where
/// a file stops being UTF-8 is said by line, as every other problem in it.
pub fn line_of_byte(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn is_hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.'))
}

fn read_dir(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), ReadError> {
    let err = |path: &Path, source| ReadError {
        path: path.display().to_string(),
        source,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| err(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        let file_type = entry.file_type().map_err(|e| err(&path, e))?;
        // Follow symlinks the way a reader of the folder would.
        let is_dir = file_type.is_dir() || (file_type.is_symlink() && path.is_dir());
        if is_dir {
            read_dir(&path, &format!("{relative}/"), files)?;
        } else {
            let data = std::fs::read(&path).map_err(|e| err(&path, e))?;
            files.insert(relative, data);
        }
    }
    Ok(())
}
