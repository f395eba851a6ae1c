//! A compiled check evaluated for one reader: objects in, verdict out, with the reader's
//! placeholder values rendered into expectations and CEL.

use std::ops::Deref;

use serde_json::Value;

use super::matching::{self, Expectation, Mismatches, describe};
use super::template::Values;
use super::verdict::{Diagnostic, Verdict};
use super::{CompiledCheck, object_id, terminating, words};

/// A [`CompiledCheck`] for one reader; reads as the check itself.
#[derive(Debug, Clone, Copy)]
pub struct Eval<'c> {
    check: &'c CompiledCheck,
    values: Option<&'c Values>,
}

impl Deref for Eval<'_> {
    type Target = CompiledCheck;

    fn deref(&self) -> &CompiledCheck {
        self.check
    }
}

impl<'c> Eval<'c> {
    pub(super) fn new(check: &'c CompiledCheck, values: Option<&'c Values>) -> Eval<'c> {
        Eval { check, values }
    }

    /// The reader's placeholder values, if any.
    pub fn values(&self) -> Option<&'c Values> {
        self.values
    }

    /// Whether `actual` matches `node` for this reader.
    pub fn holds(&self, node: &Expectation, actual: Option<&Value>) -> bool {
        matching::matches_for(node, actual, self.values)
    }

    /// Evaluates the check against the objects its `find` returned from `namespace`.
    pub fn evaluate_in(&self, objects: &[Value], namespace: Option<&str>) -> Verdict {
        let result = if self.absent {
            self.try_absent(objects)
        } else if let Some(count) = &self.count {
            self.try_count(count, objects)
        } else {
            self.try_default(objects, namespace)
        };
        result.unwrap_or_else(|message| Verdict::Error { message })
    }

    // Passes when no object matches; objects that match but are being deleted are on their way
    // out: pending.
    fn try_absent(&self, objects: &[Value]) -> Result<Verdict, String> {
        let mut staying = Vec::new();
        let mut going = Vec::new();
        for object in objects {
            if self.expect_matches(object) && self.cel_holds(object)? {
                if terminating(object) {
                    going.push(object);
                } else {
                    staying.push(object);
                }
            }
        }
        let expected = || {
            self.describe
                .clone()
                .unwrap_or_else(|| words::none_of(self.find.as_ref()))
        };
        if !staying.is_empty() {
            let diagnostic = Diagnostic::whole(expected(), words::objects(&staying));
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        if !going.is_empty() {
            return Ok(Verdict::Pending {
                diagnostics: vec![Diagnostic::whole(expected(), words::being_deleted(&going))],
            });
        }
        Ok(Verdict::Passed)
    }

    // Objects being deleted are not counted.
    fn try_count(&self, count: &Expectation, objects: &[Value]) -> Result<Verdict, String> {
        let mut matching = 0usize;
        let mut deleting = 0usize;
        for object in objects {
            if terminating(object) {
                deleting += 1;
            } else if self.expect_matches(object) && self.cel_holds(object)? {
                matching += 1;
            }
        }
        if matching::matches(count, Some(&Value::from(matching))) {
            return Ok(Verdict::Passed);
        }
        let expected = self
            .describe
            .clone()
            .unwrap_or_else(|| words::count_expected(&describe::count(count)));
        let actual = words::count_found(matching, objects.len(), deleting);
        Ok(self.failed(vec![Diagnostic::whole(expected, actual)], None, objects))
    }

    /// The default verdict: some object (not being deleted) matches `expect` and `cel`;
    /// otherwise the closest one's diagnostics, "being deleted", or "not found".
    pub fn try_default(
        &self,
        objects: &[Value],
        namespace: Option<&str>,
    ) -> Result<Verdict, String> {
        let live: Vec<&Value> = objects.iter().filter(|o| !terminating(o)).collect();
        if live.is_empty() {
            let all: Vec<&Value> = objects.iter().collect();
            let actual = if all.is_empty() {
                words::not_found(self.searched(namespace))
            } else {
                words::being_deleted(&all)
            };
            let diagnostic = Diagnostic::whole(words::to_exist(self.find.as_ref()), actual);
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        // One pass finds a matching object or, failing that, the closest one: each object is
        // counted only up to the best score so far, so hopeless ones are dropped early. An
        // object whose `expect` matched but whose CEL said false is one mismatch away.
        let mut best: Option<(usize, usize, bool)> = None;
        for (i, object) in live.iter().enumerate() {
            let limit = best.map_or(usize::MAX, |(_, score, _)| score);
            let mismatches = match &self.expect {
                Some(expect) => {
                    let mut report = Mismatches::counting(limit).for_reader(self.values);
                    matching::check(expect, Some(object), &mut report);
                    report.count()
                }
                None => 0,
            };
            let (score, cel_failed) = if mismatches == 0 {
                if self.cel_holds(object)? {
                    return Ok(Verdict::Passed);
                }
                (1, true)
            } else {
                (mismatches, false)
            };
            if score < limit {
                best = Some((i, score, cel_failed));
            }
        }
        let Some((closest, _, cel_failed)) = best else {
            return Ok(Verdict::Passed);
        };
        let object = live[closest];
        let diagnostics = if cel_failed {
            let words = match self.values {
                Some(values) => values.text(&self.cel_words),
                None => self.cel_words.clone(),
            };
            vec![Diagnostic::whole(words, words::not_the_case())]
        } else {
            let mut report = Mismatches::collecting().for_reader(self.values);
            if let Some(expect) = &self.expect {
                matching::check(expect, Some(object), &mut report);
            }
            report.into_diagnostics()
        };
        Ok(self.failed(diagnostics, Some(object_id(object)), objects))
    }

    /// The objects (not being deleted) that match `expect` and `cel` (all of them when
    /// neither is given).
    pub fn matching<'v>(&self, objects: &'v [Value]) -> Result<Vec<&'v Value>, String> {
        let mut out = Vec::new();
        for object in objects.iter().filter(|o| !terminating(o)) {
            if self.expect_matches(object) && self.cel_holds(object)? {
                out.push(object);
            }
        }
        Ok(out)
    }

    /// The objects being deleted that would otherwise match `expect` and `cel`.
    pub fn deleting<'v>(&self, objects: &'v [Value]) -> Result<Vec<&'v Value>, String> {
        let mut out = Vec::new();
        for object in objects.iter().filter(|o| terminating(o)) {
            if self.expect_matches(object) && self.cel_holds(object)? {
                out.push(object);
            }
        }
        Ok(out)
    }

    fn expect_matches(&self, object: &Value) -> bool {
        self.expect
            .as_ref()
            .is_none_or(|expect| self.holds(expect, Some(object)))
    }

    fn cel_holds(&self, object: &Value) -> Result<bool, String> {
        match &self.cel {
            None => Ok(true),
            Some(expr) => expr
                .eval_for(object, self.values)
                .map_err(|e| format!("{e} (object {})", object_id(object))),
        }
    }

    /// Failed, or pending when an object that is not being deleted matches `pending.when`.
    pub fn failed(
        &self,
        diagnostics: Vec<Diagnostic>,
        closest: Option<String>,
        objects: &[Value],
    ) -> Verdict {
        let pending = self.pending.as_ref().is_some_and(|when| {
            objects
                .iter()
                .any(|object| !terminating(object) && self.holds(when, Some(object)))
        });
        if pending {
            Verdict::Pending { diagnostics }
        } else {
            Verdict::Failed {
                diagnostics,
                closest,
            }
        }
    }
}
