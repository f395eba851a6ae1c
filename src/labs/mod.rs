//! Labs: the lab model, loading and validation of a labs folder (embedded or on disk),
//! and Markdown rendering.

pub mod assets;
mod cel_position;
pub mod kinds;
mod load;
pub mod manifest;
mod markdown;
pub mod model;
pub mod node;
pub mod placeholders;
pub mod source;
mod svg;
mod text_rules;
pub mod workshop;

pub use assets::LabImage;
pub use markdown::{render_lab_markdown, render_markdown};
pub use model::{Lab, LabFile, Localized, Manifest, ManifestLines, Mode, Step, StepFile};
pub use placeholders::{Placeholder, Values};

/// Every lab, in home-page order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Labs sorted by `order`.
    pub labs: Vec<Lab>,
}

impl Catalog {
    /// The lab with `id`.
    pub fn lab(&self, id: &str) -> Option<&Lab> {
        self.labs.iter().find(|l| l.id == id)
    }
}

use std::path::PathBuf;

/// Where labs are read from.
#[derive(Debug, Clone)]
pub enum LabSource {
    /// The `labs/` folder built into the binary.
    Embedded,
    /// A folder on disk (`--labs DIR`).
    Dir(PathBuf),
}

/// One problem found in a labs folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the labs folder (`configmap/lab.yaml`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, and how to fix it where that is not obvious.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found in a labs folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        write!(f, "{} problem(s) found", self.problems.len())
    }
}

impl std::error::Error for Report {}

/// Loads and validates every lab from `source`; any problem fails the whole load.
pub fn load(source: &LabSource) -> Result<Catalog, Report> {
    match source {
        LabSource::Embedded => load::load_files(&source::Files::embedded(), "labs"),
        LabSource::Dir(dir) => {
            let root = dir.display().to_string();
            let files = source::Files::from_dir(dir).map_err(|e| Report {
                problems: vec![Problem {
                    file: root.clone(),
                    line: None,
                    message: format!("cannot read the labs folder: {e}"),
                }],
            })?;
            load::load_files(&files, &root)
        }
    }
}
