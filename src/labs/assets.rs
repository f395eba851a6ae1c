//! Lab images: `labs/<lab>/images/*.{svg,png}`, validated (SVG against allowlists, see
//! [`super::svg`]; at most 512 KiB each) and kept in memory so
//! the web layer can serve them at `/labs/<lab>/images/<file>`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pulldown_cmark::{Event, Parser, Tag};

use super::Problem;
use super::source::Files;

/// The largest image a lab may ship.
pub const MAX_IMAGE_BYTES: usize = 512 * 1024;

/// The folder (inside a lab folder) images are read from.
pub const IMAGES_DIR: &str = "images/";

/// One image of a lab, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabImage {
    /// The file name inside `images/` (`components.svg`).
    pub file: String,
    /// `image/svg+xml` or `image/png`.
    pub content_type: &'static str,
    /// A short hash of the content, for `ETag` and cache-busting.
    pub version: String,
    /// The file's bytes.
    pub bytes: Arc<[u8]>,
}

impl LabImage {
    /// True for SVG (served with its own restrictive CSP).
    pub fn is_svg(&self) -> bool {
        self.content_type == "image/svg+xml"
    }
}

/// A short, stable content hash (FNV-1a, 64 bits) in hex.
fn version_of(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Image file names: lowercase letters, digits, `-`, `_` and one `.` before the extension.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// Reads and validates every file under `<lab>/images/`. Returns the images that are safe to
/// serve and the problems found (any problem fails the lab).
pub fn load_images(files: &Files, lab: &str) -> (BTreeMap<String, LabImage>, Vec<Problem>) {
    let prefix = format!("{lab}/{IMAGES_DIR}");
    let mut images = BTreeMap::new();
    let mut problems = Vec::new();
    let mut problem = |file: &str, line: Option<usize>, message: String| {
        problems.push(Problem {
            file: file.to_owned(),
            line,
            message,
        });
    };
    for path in files.paths() {
        let Some(name) = path.strip_prefix(&prefix) else {
            continue;
        };
        let Some(bytes) = files.get(path) else {
            continue;
        };
        if name.contains('/') || !is_file_name(name) {
            problem(
                path,
                None,
                "image names are lowercase letters, digits, `-`, `_` and `.`, directly in images/ (no subfolders)".to_owned(),
            );
            continue;
        }
        let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            _ => {
                problem(
                    path,
                    None,
                    "only .svg and .png images are served: convert it or remove it".to_owned(),
                );
                continue;
            }
        };
        if bytes.len() > MAX_IMAGE_BYTES {
            problem(
                path,
                None,
                format!(
                    "the image is {} KiB; lab images may be at most {} KiB",
                    bytes.len().div_ceil(1024),
                    MAX_IMAGE_BYTES / 1024
                ),
            );
            continue;
        }
        if content_type == "image/png" {
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                problem(path, None, "this is not a PNG image".to_owned());
                continue;
            }
        } else {
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let line = super::source::line_of_byte(bytes, e.valid_up_to());
                    problem(
                        path,
                        Some(line),
                        "the SVG is not UTF-8 text: save it as UTF-8".to_owned(),
                    );
                    continue;
                }
            };
            let found = super::svg::problems(text);
            if !found.is_empty() {
                for (line, message) in found {
                    problem(path, Some(line), message);
                }
                continue;
            }
        }
        images.insert(
            name.to_owned(),
            LabImage {
                file: name.to_owned(),
                content_type,
                version: version_of(bytes),
                bytes: Arc::from(bytes),
            },
        );
    }
    (images, problems)
}

/// The lab-relative image references (`images/x.svg`) of a Markdown text, with their 1-based
/// lines. Other URLs (absolute, elsewhere) are not returned.
pub fn image_refs(md: &str) -> Vec<(usize, String)> {
    let line_of = |offset: usize| md[..offset.min(md.len())].matches('\n').count() + 1;
    Parser::new(md)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Image { dest_url, .. }) => {
                let url = dest_url.trim_start_matches("./");
                url.starts_with(IMAGES_DIR)
                    .then(|| (line_of(range.start), url.to_owned()))
            }
            _ => None,
        })
        .collect()
}

/// Checks that every `images/...` reference in `md` (the file `path`) names an image of the
/// lab, and records which were used.
pub fn check_refs(
    md: &str,
    path: &str,
    images: &BTreeMap<String, LabImage>,
    present: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (line, url) in image_refs(md) {
        let name = url
            .strip_prefix(IMAGES_DIR)
            .unwrap_or(&url)
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned();
        used.insert(name.clone());
        // An image that exists but was refused already has its own problem.
        if !images.contains_key(&name) && !present.contains(&name) {
            problems.push(Problem {
                file: path.to_owned(),
                line: Some(line),
                message: format!(
                    "image {url} does not exist: put the file in the lab's images/ folder"
                ),
            });
        }
    }
    problems
}

/// The names of every file in `<lab>/images/`, valid or not.
pub fn image_files(files: &Files, lab: &str) -> BTreeSet<String> {
    let prefix = format!("{lab}/{IMAGES_DIR}");
    files
        .paths()
        .filter_map(|p| p.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)]) -> (BTreeMap<String, LabImage>, Vec<Problem>) {
        load_images(&Files::from_memory(files.iter().copied()), "lab")
    }

    const GOOD: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\">\n<style>text{fill:#000}</style>\n<line marker-end=\"url(#arrow)\"/>\n</svg>\n";

    #[test]
    fn a_self_contained_svg_is_served() {
        let (images, problems) = load(&[("lab/images/a.svg", GOOD)]);
        assert!(problems.is_empty(), "{problems:?}");
        let image = &images["a.svg"];
        assert_eq!(image.content_type, "image/svg+xml");
        assert!(image.is_svg());
        assert_eq!(image.version.len(), 16);
    }

    #[test]
    fn scripts_handlers_and_external_references_are_refused_with_lines() {
        let bad = "<svg xmlns=\"http://www.w3.org/2000/svg\">\n<script>alert(1)</script>\n<rect onclick=\"x()\"/>\n<a href=\"javascript:alert(2)\"/>\n<image href=\"https://evil.example/x.png\"/>\n</svg>";
        let (images, problems) = load(&[("lab/images/bad.svg", bad)]);
        assert!(images.is_empty());
        let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(2), Some(3), Some(4), Some(5)], "{problems:?}");
        assert!(problems[0].message.contains("<script>"));
        assert!(problems[3].message.contains("external reference"));
        assert_eq!(problems[0].file, "lab/images/bad.svg");
    }

    #[test]
    fn large_odd_and_misnamed_files_are_refused() {
        let big = format!("<svg>{}</svg>", " ".repeat(MAX_IMAGE_BYTES));
        let (images, problems) = load(&[
            ("lab/images/big.svg", big.as_str()),
            ("lab/images/notes.txt", "hi"),
            ("lab/images/Fake.png", "nope"),
            ("lab/images/fake.png", "nope"),
        ]);
        assert!(images.is_empty());
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("at most 512 KiB"))
        );
        assert!(problems.iter().any(|p| p.message.contains("not a PNG")));
    }

    #[test]
    fn markdown_image_references_are_found_with_lines() {
        let md =
            "# T\n\n![a](images/a.svg)\n\ntext ![b](./images/b.png \"t\") ![c](https://x/c.png)\n";
        assert_eq!(
            image_refs(md),
            [
                (3, "images/a.svg".to_owned()),
                (5, "images/b.png".to_owned())
            ]
        );
        let (images, _) = load(&[("lab/images/a.svg", GOOD)]);
        let mut used = BTreeSet::new();
        let problems = check_refs(
            md,
            "lab/steps/s.en.md",
            &images,
            &BTreeSet::new(),
            &mut used,
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(5));
        assert!(used.contains("a.svg") && used.contains("b.png"));
    }
}
