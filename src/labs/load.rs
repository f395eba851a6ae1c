//! Loading and validating a labs folder. Every problem is collected (nothing stops at the
//! first one), each with its file and, where there is one, its 1-based line.
//!
//! How lines are found: `lab.yaml` is parsed once into a [`Node`] tree that records the line
//! of every value and key. The lab's top-level fields, each step and each check are then
//! deserialized separately from that tree, so one mistake does not hide the others and every
//! serde error points at the key or value that caused it. Semantic problems (duplicate ids,
//! missing files) take their line from the same tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::assets::{self, LabImage};
use super::manifest::{dns1123_label_problem, parse_manifests};
use super::markdown::render_lab_markdown;
use super::model::{Lab, LabFile, Localized, Manifest, Mode, Step, StepFile};
use super::node::{self, Node, Value};
use super::placeholders::Placeholder;
use super::source::Files;
use super::text_rules;
use super::workshop;
use super::{Catalog, Problem, Report};
use std::sync::Arc;

use super::cel_position;
use super::kinds::Kinds;
use crate::checks::{self, CheckSpec, CompiledCheck};

/// The two languages every step is written in, as used in file names.
const LANGS: [(&str, &str); 2] = [("en", "English"), ("zh", "Chinese")];

/// Collects problems.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        self.0.push(Problem {
            file: file.to_owned(),
            line: line.filter(|l| *l > 0),
            message: message.into(),
        });
    }

    /// Adds problems found by another part of the loader, as they are.
    fn extend(&mut self, found: impl IntoIterator<Item = Problem>) {
        self.0.extend(found);
    }

    /// How many so far: a lab is kept only when loading it added none.
    fn count(&self) -> usize {
        self.0.len()
    }

    /// The catalog of `labs` in home-page order when nothing was found, otherwise every
    /// problem in file and line order.
    fn into_result(self, mut labs: Vec<Lab>) -> Result<Catalog, Report> {
        if self.0.is_empty() {
            labs.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
            Ok(Catalog { labs })
        } else {
            let mut problems = self.0;
            problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            Err(Report { problems })
        }
    }
}

/// Loads and validates every lab in `files`; `root` names the folder in messages that are
/// about the folder itself.
pub fn load_files(files: &Files, root: &str) -> Result<Catalog, Report> {
    let mut problems = Problems::default();
    let ids: BTreeSet<&str> = files
        .paths()
        .filter_map(|p| p.split_once('/').map(|(first, _)| first))
        .collect();
    if ids.is_empty() {
        problems.add(
            root,
            None,
            "no labs found: a labs folder holds one folder per lab, each with a lab.yaml",
        );
    }
    let mut labs = Vec::new();
    let mut orders: BTreeMap<u32, Vec<(&str, Option<usize>)>> = BTreeMap::new();
    for id in ids {
        let before = problems.count();
        if !is_id(id) {
            problems.add(
                id,
                None,
                format!(
                    "lab folder name {id:?} is not allowed: use lowercase letters, digits and `-` (it is the lab's URL)"
                ),
            );
        }
        let loaded = load_lab(files, id, &mut problems);
        if let Some((order, line)) = loaded.order {
            orders.entry(order).or_default().push((id, line));
        }
        if let Some(lab) = loaded.lab
            && problems.count() == before
        {
            labs.push(lab);
        }
    }
    shared_orders(&orders, &mut problems);
    problems.into_result(labs)
}

/// Reports every lab whose `order` another lab uses too (`orders`: the labs by order, each
/// with the line of its `order`).
fn shared_orders(orders: &BTreeMap<u32, Vec<(&str, Option<usize>)>>, problems: &mut Problems) {
    for (order, users) in orders {
        if users.len() < 2 {
            continue;
        }
        for (id, line) in users {
            let others: Vec<String> = users
                .iter()
                .filter(|(other, _)| other != id)
                .map(|(other, _)| format!("`{other}`"))
                .collect();
            problems.add(
                &format!("{id}/lab.yaml"),
                *line,
                format!(
                    "order {order} is also used by lab {}: each lab needs its own position",
                    others.join(", ")
                ),
            );
        }
    }
}

/// What loading one lab produced: the lab when it deserialized, and its `order` (with line)
/// for the cross-lab duplicate check even when other parts are broken.
struct Loaded {
    lab: Option<Lab>,
    order: Option<(u32, Option<usize>)>,
}

/// Lab, step and lab folder ids: lowercase letters, digits and `-` (they appear in URLs and
/// file names).
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Check ids are more relaxed: anything that is safe in a URL path segment.
fn is_check_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn text<'a>(files: &'a Files, path: &str, problems: &mut Problems) -> Option<&'a str> {
    let bytes = files.get(path)?;
    match std::str::from_utf8(bytes) {
        Ok(t) if path.ends_with(".md") => match super::markdown::markdown_problem(t) {
            Some((line, why)) => {
                problems.add(path, Some(line), why);
                None
            }
            None => Some(t),
        },
        Ok(t) => Some(t),
        Err(e) => {
            let line = super::source::line_of_byte(bytes, e.valid_up_to());
            problems.add(
                path,
                Some(line),
                "the file is not UTF-8 text: save it as UTF-8".to_owned(),
            );
            None
        }
    }
}

/// Loads one lab folder, reporting every problem in it.
fn load_lab(files: &Files, id: &str, problems: &mut Problems) -> Loaded {
    let mut loaded = Loaded {
        lab: None,
        order: None,
    };
    let mut lab = LabLoader::new(files, id, problems);
    let Some(root) = lab.read_lab_yaml() else {
        return loaded;
    };
    if let Some(namespace) = root.get("namespace").and_then(Node::as_str) {
        namespace.clone_into(&mut lab.namespace);
    }
    if let Some(modes) = root.get("modes") {
        lab.workshop = modes.items().iter().any(|m| m.as_str() == Some("workshop"));
    }
    for (line, message) in text_rules::lab_yaml_problems(&root, &lab.namespace) {
        lab.problems.add(&lab.lab_yaml, Some(line), message);
    }
    let step_nodes = root.get("steps").map(Node::items).unwrap_or_default();
    let header = lab.header(&root);
    if let Some(header) = &header {
        lab.workshop = header.modes.contains(&Mode::Workshop);
    }
    let order_line = root.get("order").map(|n| n.line);
    loaded.order = match &header {
        Some(header) => Some((header.order, order_line)),
        None => root
            .get("order")
            .and_then(node_u32)
            .map(|o| (o, order_line)),
    };
    // Steps are looked at even when the header or another step is broken, so one run reports
    // everything; only checks that could give false alarms (unused files) need every step.
    let (step_files, all_steps_read) = steps_of(step_nodes, &lab.lab_yaml, lab.problems);
    if step_nodes.is_empty()
        && root
            .get("steps")
            .is_some_and(|n| matches!(n.value, Value::Seq(_)))
    {
        lab.problems.add(
            &lab.lab_yaml,
            root.entry("steps").map(|(k, _)| k.line),
            "the lab has no steps",
        );
    }
    let mut seen_steps: HashMap<&str, usize> = HashMap::new();
    let mut steps = Vec::new();
    for parsed in &step_files {
        steps.push(lab.load_step(parsed, &mut seen_steps));
    }
    lab.report_unused_manifests(step_nodes);
    lab.report_manifest_kinds_and_namespaces();
    stray_step_files(files, id, step_nodes, lab.problems);
    let intro_html = lab.intro();
    if all_steps_read {
        lab.report_unused_images();
    }

    if let Some(header) = &header
        && header.modes.contains(&Mode::Workshop)
    {
        lab.report_workshop_hazards(&header.namespace);
    }
    let Some(header) = header.filter(|_| all_steps_read) else {
        return loaded;
    };
    let mut built = Lab {
        id: id.to_owned(),
        order: header.order,
        title: header.title,
        summary: header.summary,
        namespace: header.namespace,
        modes: header.modes,
        intro_html,
        steps,
        images: lab.images.valid,
        names_node: false,
    };
    built.names_node = built.uses(Placeholder::Node);
    loaded.lab = Some(built);
    loaded
}

/// One lab folder while it loads: its files, where its problems go, and which manifests and
/// images its steps use (for the unused-file report).
struct LabLoader<'a> {
    files: &'a Files,
    id: &'a str,
    /// `<id>/lab.yaml`, the file most problems are in.
    lab_yaml: String,
    /// The lab's namespace as `lab.yaml` gives it (texts must not hard-code it).
    namespace: String,
    /// The lab is offered to workshops (its checks must stay in a learner's namespace).
    workshop: bool,
    problems: &'a mut Problems,
    /// The parsed manifest files, by path relative to the lab folder.
    manifests: BTreeMap<String, Vec<Manifest>>,
    /// The manifest files some step names.
    used_manifests: BTreeSet<String>,
    /// The kinds the lab may name: built-in ones and its own CustomResourceDefinitions'.
    kinds: Kinds,
    images: Images,
}

/// A lab's images and which of them its texts show.
struct Images {
    /// The images that are safe to serve, by file name.
    valid: BTreeMap<String, LabImage>,
    /// Every file in `images/`, valid or not.
    names: BTreeSet<String>,
    /// The images some text shows.
    used: BTreeSet<String>,
}

impl<'a> LabLoader<'a> {
    /// Starts loading lab `id`. Manifests and images are checked even when lab.yaml turns out
    /// broken: their problems are independent.
    fn new(files: &'a Files, id: &'a str, problems: &'a mut Problems) -> LabLoader<'a> {
        let mut manifests = BTreeMap::new();
        let manifest_prefix = format!("{id}/manifests/");
        for path in files.paths() {
            if let Some(rel) = path.strip_prefix(&manifest_prefix)
                && (rel.ends_with(".yaml") || rel.ends_with(".yml"))
            {
                let lab_rel = format!("manifests/{rel}");
                let objects = manifest_objects(files, id, &lab_rel, problems);
                manifests.insert(lab_rel, objects);
            }
        }
        let (valid, image_problems) = assets::load_images(files, id);
        problems.extend(image_problems);
        let kinds = Kinds::of_lab(manifests.values().flatten());
        LabLoader {
            kinds,
            files,
            id,
            lab_yaml: format!("{id}/lab.yaml"),
            namespace: "default".to_owned(),
            workshop: true,
            problems,
            manifests,
            used_manifests: BTreeSet::new(),
            images: Images {
                valid,
                names: assets::image_files(files, id),
                used: BTreeSet::new(),
            },
        }
    }

    /// The parsed `lab.yaml`, when there is one and it is a mapping.
    fn read_lab_yaml(&mut self) -> Option<Node> {
        if !self.files.contains(&self.lab_yaml) {
            self.problems.add(
                self.id,
                None,
                "the lab folder has no lab.yaml (or remove the folder if it is not a lab)",
            );
            return None;
        }
        let src = text(self.files, &self.lab_yaml, self.problems)?;
        let root = match node::parse(src) {
            Ok(root) => root,
            Err(e) => {
                self.problems.add(&self.lab_yaml, e.line, e.message);
                return None;
            }
        };
        if !matches!(root.value, Value::Map(_)) {
            self.problems.add(
                &self.lab_yaml,
                Some(root.line),
                format!(
                    "lab.yaml must be a mapping with order, title, summary, namespace and steps, found {}",
                    root.type_name()
                ),
            );
            return None;
        }
        Some(root)
    }

    /// The lab's fields other than its steps, when they deserialize, with the namespace
    /// checked.
    fn header(&mut self, root: &Node) -> Option<LabFile> {
        let header = from_node_or_report::<LabFile>(
            &emptied(root, "steps"),
            &self.lab_yaml,
            "",
            self.problems,
        )?;
        if let Some(why) = dns1123_label_problem(&header.namespace) {
            self.problems.add(
                &self.lab_yaml,
                root.get("namespace").map(|n| n.line),
                format!(
                    "namespace {:?} is not a valid namespace name: {why}",
                    header.namespace
                ),
            );
        }
        Some(header)
    }

    /// One step that deserialized: its id checked against the others (`seen`: first line of
    /// each id), its texts rendered and its manifests and checks read.
    fn load_step<'s>(
        &mut self,
        parsed: &'s ParsedStep<'_>,
        seen: &mut HashMap<&'s str, usize>,
    ) -> Step {
        let (step_file, step_node) = (&parsed.step, parsed.node);
        let id_line = step_node.get("id").map_or(step_node.line, |n| n.line);
        let sid = step_file.id.as_str();
        if !is_id(sid) {
            self.problems.add(
                &self.lab_yaml,
                Some(id_line),
                format!(
                    "step id {sid:?} is not allowed: use lowercase letters, digits and `-` (it names steps/{sid}.en.md)"
                ),
            );
        }
        if let Some(first) = seen.insert(sid, id_line) {
            self.problems.add(
                &self.lab_yaml,
                Some(id_line),
                format!("duplicate step id `{sid}` (first used on line {first})"),
            );
        }
        let html = self.step_html(sid, id_line);
        let manifests = self.step_manifests(parsed);
        if !step_file.checks.is_empty() && step_file.hints.is_empty() {
            self.problems.add(
                &self.lab_yaml,
                Some(id_line),
                format!(
                    "step `{sid}` has checks but no hints: add `hints:`, from a gentle nudge to the command that does it, so a learner who is stuck has a way forward"
                ),
            );
        }
        self.check_kinds(parsed);
        let source = text(self.files, &self.lab_yaml, &mut Problems::default()).unwrap_or_default();
        let compiled = check_checks(parsed, &self.lab_yaml, source, self.problems);
        if self.workshop {
            self.workshop_checks(parsed);
        }
        Step {
            id: step_file.id.clone(),
            title: step_file.title.clone(),
            html,
            manifests,
            checks: step_file.checks.clone(),
            compiled,
            hints: step_file.hints.clone(),
            hint_after_seconds: step_file.hint_after_seconds,
            confirm: step_file.confirm || step_file.checks.is_empty(),
        }
    }

    /// Checks of a lab offered to workshops that would reach outside a learner's namespace.
    fn workshop_checks(&mut self, parsed: &ParsedStep<'_>) {
        for (check, node) in parsed.step.checks.iter().zip(&parsed.check_nodes) {
            for reach in checks::outside_namespace(check, &self.namespace) {
                self.problems.add(
                    &self.lab_yaml,
                    Some(node.line),
                    format!(
                        "check `{}`: the lab is offered to workshops, where {reach}; ask about the lab's namespace, or add `modes: [local]`",
                        check.id
                    ),
                );
            }
        }
    }

    /// The step's text in every language (`id_line`: the line of the step's id, for a missing
    /// text).
    fn step_html(&mut self, sid: &str, id_line: usize) -> Localized {
        let mut html = Localized::default();
        for (lang, language) in LANGS {
            let rel = format!("steps/{sid}.{lang}.md");
            let path = format!("{}/{rel}", self.id);
            if !self.files.contains(&path) {
                self.problems.add(
                    &self.lab_yaml,
                    Some(id_line),
                    format!("step `{sid}` has no {language} text: create {rel}"),
                );
                continue;
            }
            if let Some(rendered) = self.markdown(&path) {
                match lang {
                    "en" => html.en = rendered,
                    _ => html.zh = rendered,
                }
            }
        }
        html
    }

    /// The objects of the manifest files a step names, in order; a file not under
    /// `manifests/` is read here.
    fn step_manifests(&mut self, parsed: &ParsedStep<'_>) -> Vec<Manifest> {
        let mut objects = Vec::new();
        let entry_nodes = parsed
            .node
            .get("manifests")
            .map(Node::items)
            .unwrap_or_default();
        for (rel, entry) in parsed.step.manifests.iter().zip(entry_nodes) {
            let line = Some(entry.line);
            if rel.starts_with('/') || rel.contains('\\') || rel.split('/').any(|p| p == "..") {
                self.problems.add(
                    &self.lab_yaml,
                    line,
                    format!(
                        "manifest {rel:?} must be a path inside the lab folder, like manifests/app.yaml"
                    ),
                );
                continue;
            }
            if !self.manifests.contains_key(rel) {
                if self.files.contains(&format!("{}/{rel}", self.id)) {
                    let parsed = manifest_objects(self.files, self.id, rel, self.problems);
                    self.manifests.insert(rel.clone(), parsed);
                } else {
                    let hint = if self.files.contains(&format!("{}/manifests/{rel}", self.id)) {
                        format!(" (did you mean manifests/{rel}?)")
                    } else {
                        String::new()
                    };
                    self.problems.add(
                        &self.lab_yaml,
                        line,
                        format!("manifest {rel} does not exist in the lab folder{hint}"),
                    );
                    continue;
                }
            }
            self.used_manifests.insert(rel.clone());
            objects.extend(self.manifests.get(rel).into_iter().flatten().cloned());
        }
        objects
    }

    /// The Markdown file at `path` rendered, its image references checked and recorded; None
    /// when it is not text.
    fn markdown(&mut self, path: &str) -> Option<String> {
        let md = text(self.files, path, self.problems)?;
        self.problems.extend(assets::check_refs(
            md,
            path,
            &self.images.valid,
            &self.images.names,
            &mut self.images.used,
        ));
        for (line, message) in text_rules::markdown_problems(md, &self.namespace) {
            self.problems.add(path, Some(line), message);
        }
        Some(render_lab_markdown(md, self.id))
    }

    /// The optional introduction; when one language has it, the other must too.
    fn intro(&mut self) -> Localized {
        let mut html = Localized::default();
        let present: Vec<bool> = LANGS
            .iter()
            .map(|(lang, _)| self.files.contains(&format!("{}/intro.{lang}.md", self.id)))
            .collect();
        for (i, (lang, language)) in LANGS.iter().enumerate() {
            let path = format!("{}/intro.{lang}.md", self.id);
            if !present[i] {
                if present.iter().any(|p| *p) {
                    self.problems.add(
                        &path,
                        None,
                        format!(
                            "missing: the introduction exists in another language but not in {language}"
                        ),
                    );
                }
                continue;
            }
            if let Some(rendered) = self.markdown(&path) {
                match *lang {
                    "en" => html.en = rendered,
                    _ => html.zh = rendered,
                }
            }
        }
        html
    }

    /// Manifest files under `manifests/` that no step names. Every name a step mentions counts
    /// as used, even in a step that is otherwise broken, so one mistake does not also make its
    /// files look unused.
    fn report_unused_manifests(&mut self, step_nodes: &[Node]) {
        for entry in step_nodes
            .iter()
            .flat_map(|n| n.get("manifests").map(Node::items).unwrap_or_default())
        {
            if let Some(rel) = entry.as_str() {
                self.used_manifests.insert(rel.to_owned());
            }
        }
        for rel in self.manifests.keys() {
            if rel.starts_with("manifests/") && !self.used_manifests.contains(rel) {
                self.problems.add(
                    &format!("{}/{rel}", self.id),
                    None,
                    "not used by any step: list it in a step's `manifests:` or delete it",
                );
            }
        }
    }

    /// Manifests a workshop cannot take, in a lab offered to workshops (see
    /// [`super::workshop`]), each at the line of the field at fault.
    fn report_workshop_hazards(&mut self, lab_namespace: &str) {
        for (rel, objects) in &self.manifests {
            for manifest in objects {
                for found in workshop::hazards(&manifest.object, lab_namespace) {
                    self.problems.add(
                        &format!("{}/{rel}", self.id),
                        Some(workshop::line_at(&manifest.source, &found.at)),
                        format!(
                            "{} {} cannot be set up in a workshop because {}; this lab is \
                             offered to workshops (its `modes` include `workshop`, the default): \
                             change the manifest, or write `modes: [local]` in lab.yaml",
                            manifest.kind, manifest.name, found.why
                        ),
                    );
                }
            }
        }
    }

    /// Every `find` and `answer.apiGroupOf` naming a kind the cluster does not serve.
    fn check_kinds(&mut self, parsed: &ParsedStep<'_>) {
        for (check, node) in parsed.step.checks.iter().zip(&parsed.check_nodes) {
            let line = |key: &str| Some(node.get(key).map_or(node.line, |n| n.line));
            if let Some(find) = &check.find
                && let Some(why) = self.kinds.problem(&find.api_version, &find.kind)
            {
                self.problems.add(
                    &self.lab_yaml,
                    line("find"),
                    format!("check `{}`: `find`: {}", check.id, sentence(&why)),
                );
            }
            if let Some(kind) = check
                .answer
                .as_ref()
                .and_then(|a| a.api_group_of.as_deref())
                && let Some(why) = self.kinds.kind_problem(kind)
            {
                self.problems.add(
                    &self.lab_yaml,
                    line("answer"),
                    format!(
                        "check `{}`: `answer.apiGroupOf`: {}",
                        check.id,
                        sentence(&why)
                    ),
                );
            }
        }
    }

    /// Every manifest of a kind the cluster does not serve, and every one that names its
    /// namespace: kubelab puts objects into the reader's namespace, and a hard-coded one
    /// breaks the lab in a workshop (and takes the object out of the lab's namespace locally).
    fn report_manifest_kinds_and_namespaces(&mut self) {
        for (rel, objects) in &self.manifests {
            let path = format!("{}/{rel}", self.id);
            for object in objects {
                if let Some(why) = self.kinds.problem(&object.api_version, &object.kind) {
                    self.problems
                        .add(&path, Some(object.lines.kind), sentence(&why));
                }
                if let Some(why) = object
                    .namespace
                    .as_deref()
                    .and_then(|ns| self.hard_coded(ns))
                {
                    self.problems.add(&path, object.lines.namespace, why);
                }
            }
        }
    }

    /// Why a manifest's `metadata.namespace: namespace` is a problem: the lab's own namespace
    /// is redundant and wrong in a workshop; another one is refused in a workshop, so only a
    /// lab for laptops (`modes: [local]`) may reach into it on purpose.
    fn hard_coded(&self, namespace: &str) -> Option<String> {
        let leave_it_out = format!(
            "`metadata.namespace: {namespace}` hard-codes a namespace: leave it out; kubelab puts the object into the lab's `namespace` (`{}`), and into the learner's own namespace in a workshop",
            self.namespace
        );
        if namespace == self.namespace {
            Some(leave_it_out)
        } else if self.workshop {
            Some(format!(
                "{leave_it_out} (a lab that must put it into `{namespace}` cannot be offered to workshops: give it `modes: [local]`)"
            ))
        } else {
            None
        }
    }

    /// Images no text shows (only said when every step could be read).
    fn report_unused_images(&mut self) {
        let images = &self.images;
        for name in images
            .valid
            .keys()
            .filter(|name| !images.used.contains(*name))
        {
            self.problems.add(
                &format!("{}/{}{name}", self.id, assets::IMAGES_DIR),
                None,
                format!(
                    "not used by any step or introduction: show it with ![description](images/{name}) or delete it"
                ),
            );
        }
    }
}

/// `text` ending as a sentence does (a question keeps its question mark).
fn sentence(text: &str) -> String {
    if text.ends_with(['.', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

fn node_u32(node: &Node) -> Option<u32> {
    match node.value {
        Value::UInt(u) => u32::try_from(u).ok(),
        _ => None,
    }
}

/// Parses a manifest file (path relative to the lab folder), reporting its problems.
fn manifest_objects(files: &Files, id: &str, rel: &str, problems: &mut Problems) -> Vec<Manifest> {
    let path = format!("{id}/{rel}");
    let Some(src) = text(files, &path, problems) else {
        return Vec::new();
    };
    let (objects, found) = parse_manifests(rel, src);
    for (line, message) in found {
        problems.add(&path, line, message);
    }
    objects
}

/// A copy of `node` where the list under `key` is empty, so the rest is deserialized
/// without it (the list's elements are deserialized one by one).
fn emptied(node: &Node, key: &str) -> Node {
    let mut copy = node.clone();
    if let Value::Map(entries) = &mut copy.value {
        for (k, v) in entries.iter_mut() {
            if k.name == key && matches!(v.value, Value::Seq(_)) {
                v.value = Value::Seq(Vec::new());
            }
        }
    }
    copy
}

/// The `id` of a step or check node, when it has a string one (to say which one is broken).
fn id_of(node: &Node) -> Option<&str> {
    node.get("id").and_then(Node::as_str)
}

/// Deserializes `T`, reporting a failure (its message prefixed with `context`).
fn from_node_or_report<T: serde::de::DeserializeOwned>(
    node: &Node,
    file: &str,
    context: &str,
    problems: &mut Problems,
) -> Option<T> {
    match node::from_node::<T>(node) {
        Ok(value) => Some(value),
        Err(e) => {
            problems.add(file, e.line, format!("{context}{}", e.message));
            None
        }
    }
}

/// A step that deserialized, with the nodes its lines come from.
struct ParsedStep<'a> {
    step: StepFile,
    node: &'a Node,
    /// The node of each of `step.checks`, in the same order.
    check_nodes: Vec<&'a Node>,
}

/// Deserializes every step, and every check of every step, separately (all failures are
/// reported). Returns the steps that could be read (with the checks that could be read) and
/// whether everything could be read.
fn steps_of<'a>(
    step_nodes: &'a [Node],
    file: &str,
    problems: &mut Problems,
) -> (Vec<ParsedStep<'a>>, bool) {
    let mut all_read = true;
    let mut steps = Vec::new();
    for node in step_nodes {
        let step_name = id_of(node).map_or_else(String::new, |id| format!("step `{id}`: "));
        let step =
            from_node_or_report::<StepFile>(&emptied(node, "checks"), file, &step_name, problems);
        let mut checks = Vec::new();
        let mut check_nodes = Vec::new();
        for check_node in node.get("checks").map(Node::items).unwrap_or_default() {
            let name = id_of(check_node).map_or_else(String::new, |id| format!("check `{id}`: "));
            match from_node_or_report::<CheckSpec>(check_node, file, &name, problems) {
                Some(check) => {
                    checks.push(check);
                    check_nodes.push(check_node);
                }
                None => all_read = false,
            }
        }
        match step {
            Some(mut step) => {
                step.checks = checks;
                steps.push(ParsedStep {
                    step,
                    node,
                    check_nodes,
                });
            }
            None => all_read = false,
        }
    }
    (steps, all_read)
}

/// Check ids unique within the step, and what the check language says about each check; the
/// checks compiled (the form the engine evaluates), all of them or none. `source` is the text
/// of `lab.yaml`, for the file position of a problem in `cel`.
fn check_checks(
    parsed: &ParsedStep<'_>,
    file: &str,
    source: &str,
    problems: &mut Problems,
) -> Vec<Arc<CompiledCheck>> {
    let mut compiled = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (check, check_node) in parsed.step.checks.iter().zip(&parsed.check_nodes) {
        let id_line = check_node.get("id").map_or(check_node.line, |n| n.line);
        let cid = check.id.as_str();
        if !is_check_id(cid) {
            problems.add(
                file,
                Some(id_line),
                format!("check id {cid:?} is not allowed: use letters, digits, `-`, `_` and `.`"),
            );
        }
        if let Some(first) = seen.insert(cid, id_line) {
            problems.add(
                file,
                Some(id_line),
                format!(
                    "duplicate check id `{cid}` in step `{}` (first used on line {first})",
                    parsed.step.id
                ),
            );
        }
        match CompiledCheck::compile(check) {
            Ok(check) => compiled.push(Arc::new(check)),
            Err(found) => {
                for problem in found {
                    let located = problem.cel.as_ref().and_then(|e| {
                        let (line, column) = cel_position::locate(source, check_node, e.offset?)?;
                        let verb = if e.syntax { "does not parse " } else { "" };
                        Some((
                            line,
                            format!("`cel` {verb}at column {column}: {}.", e.message),
                        ))
                    });
                    let (line, message) = located.unwrap_or((check_node.line, problem.message));
                    problems.add(file, Some(line), format!("check `{cid}`: {message}"));
                }
            }
        }
    }
    if compiled.len() != parsed.step.checks.len() {
        compiled.clear();
    }
    compiled
}

/// Files in `steps/` that belong to no step (usually a typo in the file name or the id).
fn stray_step_files(files: &Files, id: &str, step_nodes: &[Node], problems: &mut Problems) {
    let prefix = format!("{id}/steps/");
    let expected: BTreeSet<String> = step_nodes
        .iter()
        .filter_map(id_of)
        .flat_map(|sid| {
            LANGS
                .iter()
                .map(move |(lang, _)| format!("{sid}.{lang}.md"))
        })
        .collect();
    for path in files.paths() {
        if let Some(name) = path.strip_prefix(&prefix)
            && !expected.contains(name)
        {
            problems.add(
                path,
                None,
                "not used by any step: step text is steps/<step-id>.en.md and steps/<step-id>.zh.md",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "\
order: 1
title: {en: ConfigMap, zh: ConfigMap}
summary: {en: Config for pods, zh: 配置}
namespace: fly-k8s
steps:
  - id: create
    title: {en: Create it, zh: 创建}
    manifests: [manifests/cm.yaml]
    checks:
      - id: exists
        title: {en: exists, zh: 存在}
        reason: {en: create it, zh: 创建}
        find: {apiVersion: v1, kind: ConfigMap, name: base-map}
        expect:
          data:
            enabled: yes
    hints:
      - {en: Use kubectl apply, zh: 用 kubectl apply}
  - id: edit
    title: {en: Edit it, zh: 编辑}
";

    const CM: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-map\ndata:\n  enabled: yes\n";

    fn good_files() -> Vec<(String, String)> {
        [
            ("README.md", "# labs"),
            ("configmap/lab.yaml", LAB),
            ("configmap/intro.en.md", "# Intro\n\nHello"),
            ("configmap/intro.zh.md", "# 简介\n\n你好"),
            (
                "configmap/steps/create.en.md",
                "Run:\n\n```sh\nkubectl apply -f cm.yaml\n```\n",
            ),
            ("configmap/steps/create.zh.md", "运行 `kubectl`"),
            (
                "configmap/steps/edit.en.md",
                "Edit <script>alert(1)</script>",
            ),
            ("configmap/steps/edit.zh.md", "编辑"),
            ("configmap/manifests/cm.yaml", CM),
        ]
        .into_iter()
        .map(|(p, c)| (p.to_owned(), c.to_owned()))
        .collect()
    }

    fn load(files: &[(String, String)]) -> Result<Catalog, Report> {
        load_files(
            &Files::from_memory(files.iter().map(|(p, c)| (p.as_str(), c.as_str()))),
            "labs",
        )
    }

    fn with_lab_yaml(lab: String) -> Vec<(String, String)> {
        let mut files = good_files();
        files[1].1 = lab;
        files
    }

    fn has(report: &Report, display: &str) -> bool {
        report.problems.iter().any(|p| p.to_string() == display)
    }

    #[test]
    fn a_valid_lab_loads() {
        let catalog = load(&good_files()).unwrap();
        let lab = catalog.lab("configmap").unwrap();
        assert_eq!(lab.namespace, "fly-k8s");
        assert_eq!(lab.steps.len(), 2);
        let create = lab.step("create").unwrap();
        assert_eq!(create.manifests.len(), 1);
        assert_eq!(create.manifests[0].kind, "ConfigMap");
        assert_eq!(create.manifests[0].name, "base-map");
        assert_eq!(create.manifests[0].namespace, None);
        assert_eq!(create.manifests[0].object["data"]["enabled"], "yes");
        assert_eq!(
            create.checks[0].expect.as_ref().unwrap()["data"]["enabled"],
            "yes"
        );
        assert_eq!(create.hints.len(), 1);
        assert!(
            create.html.en.contains(r#"class="copy""#),
            "{}",
            create.html.en
        );
        assert!(create.html.zh.contains("<code>kubectl</code>"));
        assert!(!lab.step("edit").unwrap().html.en.contains("<script"));
        assert!(lab.intro_html.zh.contains("你好"));
    }

    #[test]
    fn labs_are_sorted_by_order() {
        let mut files = good_files();
        for (path, content) in good_files() {
            if let Some(rest) = path.strip_prefix("configmap/") {
                let content = if rest == "lab.yaml" {
                    LAB.replace("order: 1", "order: 0")
                } else {
                    content
                };
                files.push((format!("apod/{rest}"), content));
            }
        }
        let catalog = load(&files).unwrap();
        let ids: Vec<&str> = catalog.labs.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["apod", "configmap"]);
    }

    #[test]
    fn several_problems_in_one_lab_yaml_are_all_reported() {
        let lab = LAB
            .replace(
                "    title: {en: Edit it, zh: 编辑}",
                "    titel: {en: Edit it, zh: 编辑}",
            )
            .replace("        find: {", "        colour: red\n        find: {");
        let report = load(&with_lab_yaml(lab)).unwrap_err();
        assert!(
            has(
                &report,
                "configmap/lab.yaml:13: check `exists`: unknown field `colour`, expected one of `id`, `title`, `reason`, `describe`, `find`, `served`, `serverVersion`, `access`, `exec`, `events`, `question`, `answer`, `normalize`, `since`, `expect`, `cel`, `absent`, `count`, `pending`"
            ),
            "{report}"
        );
        assert!(
            report.problems.iter().any(|p| p.line == Some(21)
                && p.message.starts_with("step `edit`: unknown field `titel`")),
            "{report}"
        );
    }

    #[test]
    fn access_checks_of_a_workshop_lab_stay_in_the_learners_namespace() {
        let access = "        find: {apiVersion: v1, kind: ConfigMap, name: base-map}\n        expect:\n          data:\n            enabled: yes\n";
        let asks = "        access: {serviceAccount: reader, verb: list, resource: pods, namespace: kube-system}\n";
        let lab = LAB.replace(access, asks);
        let report = load(&with_lab_yaml(lab.clone())).unwrap_err();
        assert!(
            has(
                &report,
                "configmap/lab.yaml:10: check `exists`: the lab is offered to workshops, where it asks about namespace `kube-system`, but a workshop learner works only in their own namespace; ask about the lab's namespace, or add `modes: [local]`"
            ),
            "{report}"
        );
        let local = lab.replace(
            "namespace: fly-k8s\n",
            "namespace: fly-k8s\nmodes: [local]\n",
        );
        assert!(load(&with_lab_yaml(local)).is_ok());
    }

    #[test]
    fn semantic_problems_have_lines() {
        let lab = LAB.replace("  - id: edit", "  - id: create").replace(
            "manifests: [manifests/cm.yaml]",
            "manifests: [manifests/cm.yaml, cm.yaml]",
        );
        let mut files = with_lab_yaml(lab);
        files.retain(|(p, _)| p != "configmap/steps/create.zh.md");
        let report = load(&files).unwrap_err();
        assert!(
            has(
                &report,
                "configmap/lab.yaml:19: duplicate step id `create` (first used on line 6)"
            ),
            "{report}"
        );
        assert!(
            has(
                &report,
                "configmap/lab.yaml:6: step `create` has no Chinese text: create steps/create.zh.md"
            ),
            "{report}"
        );
        assert!(
            has(
                &report,
                "configmap/lab.yaml:8: manifest cm.yaml does not exist in the lab folder (did you mean manifests/cm.yaml?)"
            ),
            "{report}"
        );
        assert!(
            has(
                &report,
                "configmap/steps/edit.en.md: not used by any step: step text is steps/<step-id>.en.md and steps/<step-id>.zh.md"
            ),
            "{report}"
        );
    }

    #[test]
    fn an_empty_folder_has_no_labs() {
        let report = load(&[("README.md".to_owned(), "# nothing".to_owned())]).unwrap_err();
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].message.starts_with("no labs found"));
    }

    mod lint;
}
