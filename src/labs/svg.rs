//! SVG images checked with a real XML parser against allowlists of elements and attributes: what
//! a diagram needs (shapes, text, markers, gradients, CSS) passes; anything that can run code or
//! load something (scripts in any namespace prefix, `foreignObject`, animations that rewrite
//! links, event handlers however written, `javascript:` however encoded, external references)
//! is refused with its line.

use roxmltree::{Document, Node, ParsingOptions};

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Namespaces of drawing programs' bookkeeping (Inkscape, Sodipodi, RDF metadata): never
/// rendered, so their elements and attributes are allowed as they are.
const EDITOR_NS: &[&str] = &[
    "http://www.inkscape.org/namespaces/inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://creativecommons.org/ns#",
    "http://purl.org/dc/elements/1.1/",
];

/// SVG elements a diagram may use.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "title",
    "desc",
    "metadata",
    "symbol",
    "use",
    "a",
    "switch",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textPath",
    "marker",
    "linearGradient",
    "radialGradient",
    "stop",
    "pattern",
    "clipPath",
    "mask",
    "image",
    "style",
    "filter",
    "feBlend",
    "feColorMatrix",
    "feComponentTransfer",
    "feComposite",
    "feDropShadow",
    "feFlood",
    "feFuncA",
    "feFuncB",
    "feFuncG",
    "feFuncR",
    "feGaussianBlur",
    "feMerge",
    "feMergeNode",
    "feMorphology",
    "feOffset",
];

/// Attributes (without a namespace) an allowed element may carry; `href` and `style` are
/// allowed too, with their values checked.
const ATTRIBUTES: &[&str] = &[
    // Core, accessibility, conditional processing.
    "id",
    "class",
    "lang",
    "tabindex",
    "role",
    "aria-label",
    "aria-labelledby",
    "aria-describedby",
    "aria-hidden",
    "focusable",
    "version",
    "baseProfile",
    "requiredFeatures",
    "requiredExtensions",
    "systemLanguage",
    // Geometry and coordinate systems.
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "width",
    "height",
    "d",
    "points",
    "pathLength",
    "viewBox",
    "preserveAspectRatio",
    "transform",
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "startOffset",
    "method",
    "spacing",
    "side",
    // Markers, gradients, patterns, clips, masks, filters.
    "refX",
    "refY",
    "markerWidth",
    "markerHeight",
    "markerUnits",
    "orient",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "offset",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "clipPathUnits",
    "maskUnits",
    "maskContentUnits",
    "filterUnits",
    "primitiveUnits",
    "in",
    "in2",
    "result",
    "mode",
    "operator",
    "k1",
    "k2",
    "k3",
    "k4",
    "stdDeviation",
    "edgeMode",
    "values",
    "type",
    "tableValues",
    "slope",
    "intercept",
    "amplitude",
    "exponent",
    "radius",
    "media",
    // Presentation attributes.
    "alignment-baseline",
    "baseline-shift",
    "clip",
    "clip-path",
    "clip-rule",
    "color",
    "color-interpolation",
    "color-interpolation-filters",
    "cursor",
    "direction",
    "display",
    "dominant-baseline",
    "fill",
    "fill-opacity",
    "fill-rule",
    "filter",
    "flood-color",
    "flood-opacity",
    "font",
    "font-family",
    "font-size",
    "font-size-adjust",
    "font-stretch",
    "font-style",
    "font-variant",
    "font-weight",
    "image-rendering",
    "letter-spacing",
    "lighting-color",
    "marker",
    "marker-end",
    "marker-mid",
    "marker-start",
    "mask",
    "opacity",
    "overflow",
    "paint-order",
    "pointer-events",
    "shape-rendering",
    "stop-color",
    "stop-opacity",
    "stroke",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-opacity",
    "stroke-width",
    "text-anchor",
    "text-decoration",
    "text-rendering",
    "unicode-bidi",
    "vector-effect",
    "visibility",
    "white-space",
    "word-spacing",
    "writing-mode",
];

/// The most nodes an image may have (a diagram has hundreds).
const MAX_NODES: u32 = 50_000;

/// Problems in an SVG's text, each with its 1-based line: nothing when it is a well-formed SVG
/// made only of allowed elements and attributes with safe values.
pub fn problems(text: &str) -> Vec<(usize, String)> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = match Document::parse_with_options(text, options) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.pos().row as usize;
            return vec![(line.max(1), format!("the SVG is not well-formed XML: {e}"))];
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace() != Some(SVG_NS) {
        return vec![(
            line_of(&doc, root),
            format!("this is not an SVG image (the root element must be <svg xmlns=\"{SVG_NS}\">)"),
        )];
    }
    let mut found = Vec::new();
    walk(&doc, root, &mut found);
    found
}

/// Checks `node` and its descendants; an element refused as a whole is not looked into.
fn walk(doc: &Document<'_>, node: Node<'_, '_>, found: &mut Vec<(usize, String)>) {
    let tag = node.tag_name();
    let name = tag.name();
    match tag.namespace() {
        Some(ns) if EDITOR_NS.contains(&ns) => return,
        Some(SVG_NS) if ELEMENTS.contains(&name) => {}
        Some(SVG_NS) => {
            found.push((line_of(doc, node), element_refused(name)));
            return;
        }
        other => {
            let ns = other.unwrap_or("no namespace");
            found.push((
                line_of(doc, node),
                format!(
                    "the SVG contains an element <{name}> from another XML vocabulary ({ns}): lab images may only use SVG's drawing elements"
                ),
            ));
            return;
        }
    }
    for attribute in node.attributes() {
        if let Some(why) = attribute_problem(name, attribute) {
            found.push((line_of(doc, node), why));
        }
    }
    if name == "style" {
        let css: String = node.descendants().filter_map(|n| n.text()).collect();
        if let Some(why) = css_problem(&css) {
            found.push((line_of(doc, node), format!("the SVG's <style> {why}")));
        }
    }
    for child in node.children().filter(Node::is_element) {
        walk(doc, child, found);
    }
}

fn element_refused(name: &str) -> String {
    let why = match name {
        "script" => "a <script> element: lab images may not run code",
        "foreignObject" => {
            "a <foreignObject> element: it embeds HTML, which may run code or load anything"
        }
        "set" | "animate" | "animateTransform" | "animateMotion" => {
            "an animation element: animations can rewrite links into javascript: URLs"
        }
        "iframe" | "embed" | "object" | "audio" | "video" | "canvas" | "feImage" => {
            "an element that embeds or loads other content"
        }
        _ => "",
    };
    if why.is_empty() {
        format!(
            "the SVG contains <{name}>, which lab images may not use (allowed: shapes, text, markers, gradients, patterns, clip paths, masks, filters, <style>, <a>, <use> and embedded images)"
        )
    } else {
        format!("the SVG contains {why}")
    }
}

/// Why `attribute` of element `element` is refused, if it is.
fn attribute_problem(element: &str, attribute: roxmltree::Attribute<'_, '_>) -> Option<String> {
    let name = attribute.name();
    let value = attribute.value();
    if name.to_ascii_lowercase().starts_with("on") {
        return Some(format!(
            "the SVG contains an event-handler attribute ({name}=): lab images may not run code"
        ));
    }
    if looks_like_javascript(value) {
        return Some(format!(
            "the SVG contains a javascript: URL (in {name}=): lab images may not run code"
        ));
    }
    match (attribute.namespace(), name) {
        (None | Some(XLINK_NS), "href") => href_problem(element, value),
        (None, "style") => css_problem(value).map(|why| format!("the SVG's style= {why}")),
        (None, n) if ATTRIBUTES.contains(&n) => {
            url_reference_problem(value).map(|why| format!("the SVG's {n}= {why}"))
        }
        (Some(XML_NS), "space" | "lang") => None,
        (Some(XLINK_NS), "title" | "type" | "role" | "arcrole" | "show" | "actuate") => None,
        (Some(ns), _) if EDITOR_NS.contains(&ns) => None,
        _ => Some(format!(
            "the SVG contains an attribute {name}= that lab images may not use (on <{element}>)"
        )),
    }
}

/// A link (`href`/`xlink:href`): a fragment inside the image, on `<image>` an embedded raster
/// image too, on `<a>` an https link that opens elsewhere.
fn href_problem(element: &str, value: &str) -> Option<String> {
    let v = value.trim();
    if v.starts_with('#') {
        return None;
    }
    let raster = ["png", "jpeg", "gif", "webp"]
        .iter()
        .any(|t| v.starts_with(&format!("data:image/{t};base64,")));
    match element {
        "image" if raster => None,
        "a" if v.starts_with("https://") => None,
        _ => Some(format!(
            "the SVG contains an external reference (href=\"{}\" on <{element}>): images must be self-contained (links to #ids, or embedded PNG/JPEG data)",
            v.chars().take(60).collect::<String>()
        )),
    }
}

/// Why CSS text is refused: `@import`, `url()` to anything but a `#fragment`, old IE
/// `expression()`, `javascript:`.
fn css_problem(css: &str) -> Option<String> {
    let folded = fold(css);
    if folded.contains("@import") {
        return Some("contains a CSS @import (images must be self-contained)".to_owned());
    }
    if folded.contains("expression(") || folded.contains("javascript:") {
        return Some("contains script in CSS (lab images may not run code)".to_owned());
    }
    url_reference_problem(css)
}

/// Why a value's `url(...)` references are refused: only `url(#id)` stays inside the image.
fn url_reference_problem(value: &str) -> Option<String> {
    let folded = fold(value);
    let mut rest = folded.as_str();
    while let Some(at) = rest.find("url(") {
        rest = &rest[at + 4..];
        let target = rest.trim_start_matches(['"', '\'']);
        if !target.starts_with('#') {
            return Some(
                "contains an external reference in url() (images must be self-contained)"
                    .to_owned(),
            );
        }
    }
    None
}

/// True when a value is a `javascript:` URL however a browser would still read it: any case,
/// with whitespace or control characters inside (entities are already decoded by the parser).
fn looks_like_javascript(value: &str) -> bool {
    fold(value).contains("javascript:")
}

/// Lowercase, CSS escapes decoded (`\69` is `i`), without whitespace or control characters:
/// what a browser's CSS or URL parser reads.
fn fold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            let hex: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_hexdigit))
                .take(6)
                .collect();
            if hex.is_empty() {
                match chars.next() {
                    Some(escaped) => escaped,
                    None => break,
                }
            } else {
                chars.next_if(|c| c.is_whitespace());
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            }
        } else {
            c
        };
        if !c.is_whitespace() && !c.is_control() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn line_of(doc: &Document<'_>, node: Node<'_, '_>) -> usize {
    doc.text_pos_at(node.range().start).row as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(body: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" viewBox=\"0 0 10 10\">\n{body}\n</svg>\n"
        )
    }

    fn refused(body: &str) -> Vec<(usize, String)> {
        let found = problems(&svg(body));
        assert!(!found.is_empty(), "accepted: {body}");
        found
    }

    #[test]
    fn a_diagram_with_shapes_text_markers_and_css_passes() {
        let body = r##"<title id="t">Flow</title><desc>d</desc>
<style>text { font: 12px sans-serif; fill: #222 } .box { stroke: url(#g) }</style>
<defs><marker id="arrow" refX="5" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0 0 L10 5 L0 10 z"/></marker>
<linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
<g class="box" transform="translate(1,1)"><rect x="1" y="1" width="5" height="5" rx="1" fill="url(#g)" stroke-width="1"/>
<line x1="0" y1="0" x2="5" y2="5" marker-end="url(#arrow)"/><text x="1" y="2" text-anchor="middle">api<tspan dy="1">server</tspan></text></g>
<use href="#arrow"/><use xlink:href="#arrow"/><a href="https://kubernetes.io/docs/"><text>docs</text></a>
<image width="1" height="1" href="data:image/png;base64,iVBORw0KGgo="/>"##;
        assert_eq!(problems(&svg(body)), []);
    }

    #[test]
    fn editor_bookkeeping_is_allowed() {
        let text = r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" inkscape:version="1.3">
<sodipodi:namedview pagecolor="#fff"/><g inkscape:label="Layer 1" inkscape:groupmode="layer"><rect width="1" height="1"/></g></svg>"##;
        assert_eq!(problems(text), []);
    }

    #[test]
    fn scripts_are_refused_whatever_their_prefix() {
        assert!(
            refused("<script>alert(1)</script>")[0]
                .1
                .contains("<script>")
        );
        let prefixed = "<svg:script xmlns:svg=\"http://www.w3.org/2000/svg\">alert(1)</svg:script>";
        let found = refused(prefixed);
        assert!(found[0].1.contains("<script>"), "{found:?}");
        assert_eq!(found[0].0, 2);
        let html = "<h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">alert(1)</h:script>";
        assert!(refused(html)[0].1.contains("another XML vocabulary"));
    }

    #[test]
    fn foreign_objects_and_animations_are_refused() {
        let found = refused(
            "<foreignObject><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></foreignObject>",
        );
        assert_eq!(found.len(), 1, "not looked into: {found:?}");
        assert!(found[0].1.contains("foreignObject"));
        let found =
            refused("<a href=\"#x\"><set attributeName=\"href\" to=\"javascript:alert(1)\"/></a>");
        assert!(
            found.iter().any(|(_, m)| m.contains("animation")),
            "{found:?}"
        );
        assert!(refused("<feImage href=\"#x\"/>")[0].1.contains("embeds"));
    }

    #[test]
    fn event_handlers_are_refused_however_written() {
        assert!(refused("<rect onclick=\"x()\"/>")[0].1.contains("onclick"));
        assert!(
            refused("<rect\nonload\n=\n\"x()\"/>")[0]
                .1
                .contains("event-handler")
        );
        assert!(
            refused("<rect ONMOUSEOVER=\"x()\"/>")[0]
                .1
                .contains("event-handler")
        );
    }

    #[test]
    fn javascript_urls_are_refused_however_encoded() {
        for href in [
            "javascript:alert(1)",
            "&#106;avascript:alert(1)",
            "&#x6A;&#x61;vascript:alert(1)",
            "java&#9;script:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript&#x3A;alert(1)",
        ] {
            let found = refused(&format!("<a href=\"{href}\"><text>x</text></a>"));
            assert!(found[0].1.contains("javascript:"), "{href}: {found:?}");
        }
        assert!(!refused("<a xlink:href=\"java\nscript:alert(1)\"/>").is_empty());
    }

    #[test]
    fn external_references_are_refused() {
        assert!(
            refused("<image href=\"https://evil.example/x.png\"/>")[0]
                .1
                .contains("external")
        );
        assert!(
            refused("<use href=\"other.svg#a\"/>")[0]
                .1
                .contains("external")
        );
        assert!(
            refused("<image href=\"data:image/svg+xml;base64,PHN2Zz4=\"/>")[0]
                .1
                .contains("external")
        );
        assert!(
            refused("<rect fill=\"url(https://x/y)\"/>")[0]
                .1
                .contains("url()")
        );
        assert!(
            refused("<rect style=\"fill: url( 'http://x/y' )\"/>")[0]
                .1
                .contains("url()")
        );
        assert!(
            refused("<style>@import 'https://x/y.css';</style>")[0]
                .1
                .contains("@import")
        );
        assert!(
            refused("<style>@\\69mport 'x.css';</style>")[0]
                .1
                .contains("@import")
        );
    }

    #[test]
    fn unknown_attributes_and_broken_files_are_refused_with_lines() {
        let found = refused("<rect width=\"1\"/>\n<rect formaction=\"x\"/>");
        assert_eq!(
            found,
            [(
                3,
                "the SVG contains an attribute formaction= that lab images may not use (on <rect>)"
                    .to_owned()
            )]
        );
        let found = problems("<svg xmlns=\"http://www.w3.org/2000/svg\">\n<rect>\n</svg>");
        assert!(found[0].1.contains("not well-formed"), "{found:?}");
        assert_eq!(found[0].0, 3);
        let dtd = "<!DOCTYPE svg [<!ENTITY a \"b\">]>\n<svg xmlns=\"http://www.w3.org/2000/svg\">&a;</svg>";
        assert!(problems(dtd)[0].1.contains("not well-formed"));
        assert!(problems("<html/>")[0].1.contains("not an SVG image"));
        assert!(problems("<svg/>")[0].1.contains("not an SVG image"));
    }
}
