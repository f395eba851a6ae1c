//! Gathering what a step's checks need from the cluster — objects, events, command output,
//! discovery facts — then judging each check with the pure `checks` module.

use std::collections::{BTreeMap, HashMap};

use futures::future::join_all;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::checks::{
    self, AccessOutcome, CompiledCheck, ExecOutcome, ExecSpec, ExecTarget, Find, Needs, Observed,
    Selector, Values, Verdict,
};
use crate::cluster::{ClusterError, ExecResult, ObjectKey, WatchKey};
use crate::labs::{Lab, Step};

use super::{CheckReport, Engine, EngineError, Health};

/// What the learner brings to a check: answers to questions and when the step started.
#[derive(Debug, Clone, Default)]
pub struct StepContext {
    /// Answers by check id.
    pub answers: BTreeMap<String, String>,
    /// When the learner started the step (RFC 3339).
    pub started: Option<String>,
    /// Whether commands in containers are run now or their last verdicts reused.
    pub exec: ExecPolicy,
}

/// Whether an evaluation runs the step's commands in containers.
#[derive(Debug, Clone, Default)]
pub enum ExecPolicy {
    /// Run them (Check, and live evaluations of a step in progress).
    #[default]
    Run,
    /// Reuse these verdicts (by check id) instead of running a command again: a passed step is
    /// watched for regressions without exec'ing into the learner's containers all the time.
    /// A check whose target Pod is gone or not running is still judged from the Pod.
    Reuse(BTreeMap<String, Verdict>),
}

/// A step's checks judged, with what the cluster showed of the learner's work.
pub(super) struct Evaluation {
    /// One report per check, in the lab's order.
    pub checks: Vec<CheckReport>,
    /// When the newest object the checks looked at was created: an object created after the
    /// step started is the learner's work, even if kubelab never saw the step unmet.
    pub newest: Option<OffsetDateTime>,
}

/// Per check: events about its objects and the outcome of its command (or a verdict that
/// settled the check before any command ran).
#[derive(Default)]
struct Extras {
    events: Vec<Value>,
    exec: Option<ExecOutcome>,
    settled: Option<Verdict>,
}

impl Engine {
    /// Evaluates every check of a step against the cluster, in the lab's order.
    pub(super) async fn evaluate_step(
        &self,
        lab: &Lab,
        step: &Step,
        context: &StepContext,
    ) -> Result<Evaluation, EngineError> {
        let gathered = self.gather(lab, step, context).await;
        if let Some(message) = gathered.unavailable() {
            self.set_health(Health::Unreachable {
                message: message.clone(),
            });
            return Err(EngineError::ClusterUnavailable(message));
        }
        if !step.checks.is_empty() {
            self.set_reachable_if_unknown();
        }
        let reader = Reader {
            home: self.namespace_for(lab),
            confined: self.learner.namespace.is_some(),
        };
        let reports = step
            .compiled
            .iter()
            .enumerate()
            .map(|(i, compiled)| {
                let check = compiled.spec();
                let verdict = self
                    .outside_workshop_namespace(lab, check)
                    .unwrap_or_else(|| {
                        gathered
                            .judge(i, compiled, context, &reader)
                            .unwrap_or_else(|e| Verdict::Error {
                                message: e.to_string(),
                            })
                    });
                let answered = context
                    .answers
                    .get(&check.id)
                    .is_some_and(|a| !a.trim().is_empty());
                super::report(check, verdict, answered, &gathered.values)
            })
            .collect();
        Ok(Evaluation {
            checks: reports,
            newest: gathered.newest(),
        })
    }

    /// Reads everything the step's checks need, concurrently: each distinct `find` once, the
    /// `/version` document once, discovery and extras per check.
    async fn gather<'s>(&self, lab: &Lab, step: &'s Step, context: &StepContext) -> Gathered<'s> {
        let cluster = &self.inner.cluster;
        let values = self.placeholders(lab).await;
        let needs: Vec<Needs> = step.checks.iter().map(checks::needs).collect();

        let mut finds: Vec<(&Find, Option<&Selector>)> = Vec::new();
        for check in &step.compiled {
            if let Some(find) = &check.spec().find
                && !finds.iter().any(|(f, _)| *f == find)
            {
                finds.push((find, check.selector()));
            }
        }
        let fetched = join_all(finds.iter().map(|(f, s)| self.fetch(f, *s, lab))).await;
        let finds: Vec<&Find> = finds.into_iter().map(|(f, _)| f).collect();
        let (objects, searched) = by_find(finds, fetched);

        let version = if needs.iter().any(|n| n.server_version) {
            Some(cluster.server_version().await)
        } else {
            None
        };
        let served = join_all(step.checks.iter().map(|c| async move {
            match &c.served {
                Some(api) => Some(cluster.served(&api.api_version, &api.kind).await),
                None => None,
            }
        }))
        .await;
        let groups = join_all(needs.iter().map(|n| async move {
            match &n.api_groups_of {
                Some(kind) => Some(cluster.api_groups_of(kind).await),
                None => None,
            }
        }))
        .await;
        let access = join_all(
            step.checks
                .iter()
                .zip(&needs)
                .map(|(check, need)| async move {
                    match &need.access {
                        Some(question) => self.access_outcome(lab, check, question).await,
                        None => None,
                    }
                }),
        )
        .await;
        let extras = join_all(step.compiled.iter().zip(&needs).map(|(check, need)| {
            let find = check.spec().find.as_ref();
            let found = find.and_then(|f| objects.get(f));
            let searched_in = find.and_then(|f| searched.get(f)).map(String::as_str);
            self.extras(check, need, found, lab, context, (searched_in, &values))
        }))
        .await;
        Gathered {
            values,
            needs,
            objects,
            searched,
            version,
            served,
            groups,
            access,
            extras,
        }
    }

    /// Events about the check's objects and the outcome of its command, when it needs them.
    /// `reader`: the namespace the objects were looked for in, and the reader's placeholders.
    async fn extras(
        &self,
        compiled: &CompiledCheck,
        need: &Needs,
        found: Option<&Result<Vec<Value>, ClusterError>>,
        lab: &Lab,
        context: &StepContext,
        (searched, values): (Option<&str>, &Values),
    ) -> Result<Extras, ClusterError> {
        let check = compiled.spec();
        let mut extras = Extras::default();
        let Some(Ok(objects)) = found else {
            return Ok(extras);
        };
        if need.events {
            extras.events = self.events_about(objects).await?;
        }
        if need.exec
            && let Some(exec) = &check.exec
        {
            let reused = match &context.exec {
                ExecPolicy::Reuse(verdicts) => verdicts.get(&check.id),
                ExecPolicy::Run => None,
            };
            let started = context.started.as_deref();
            match checks::exec_target(compiled, objects, started, searched, Some(values)) {
                Err(verdict) => extras.settled = Some(verdict),
                Ok(_) if reused.is_some() => extras.settled = reused.cloned(),
                Ok(target) => {
                    let namespace = target
                        .namespace
                        .as_deref()
                        .unwrap_or(self.namespace_for(lab));
                    extras.exec = Some(self.run_exec(exec, namespace, &target).await);
                }
            }
        }
        Ok(extras)
    }

    /// The events about each of `objects`: from the shared Event cache when one runs, from the
    /// API server otherwise.
    async fn events_about(&self, objects: &[Value]) -> Result<Vec<Value>, ClusterError> {
        let mut events = Vec::new();
        for object in objects {
            let kind = object["kind"].as_str().unwrap_or_default();
            let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            let namespace = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str);
            let (key, within) = self.scoped_key(WatchKey {
                api_version: "v1".to_owned(),
                kind: "Event".to_owned(),
                namespace: namespace.map(str::to_owned),
            });
            match self.cached(&key) {
                Some(cache) => events.extend(
                    cache
                        .snapshot_in(within.as_deref(), None, None)
                        .into_iter()
                        .filter(|e| {
                            e.pointer("/involvedObject/kind").and_then(Value::as_str) == Some(kind)
                                && e.pointer("/involvedObject/name").and_then(Value::as_str)
                                    == Some(name)
                        }),
                ),
                None => events.extend(
                    self.inner
                        .cluster
                        .events_about(namespace, kind, name)
                        .await?,
                ),
            }
        }
        Ok(events)
    }

    /// Runs an exec check's command in its container: its outcome, a failure to run it
    /// included, is for the check to judge.
    async fn run_exec(&self, exec: &ExecSpec, namespace: &str, target: &ExecTarget) -> ExecOutcome {
        // Every learner's exec checks share a few slots, so a room full of open pages cannot
        // flood the kubelets.
        let _slot = self.inner.exec_slots.acquire().await.ok();
        let outcome = self
            .inner
            .cluster
            .exec(
                namespace,
                &target.pod,
                &target.container,
                &exec.command,
                exec.timeout(),
            )
            .await;
        match outcome {
            Ok(ExecResult::Finished {
                stdout,
                stderr,
                exit_code,
            }) => ExecOutcome::Finished {
                stdout,
                stderr,
                exit_code,
            },
            Ok(ExecResult::TimedOut) => ExecOutcome::TimedOut {
                seconds: exec.timeout().as_secs(),
            },
            // Also when the exec's upgrade timed out: the check says it could not be evaluated
            // and is retried on its backoff, while the health probe alone decides whether the
            // whole cluster is unreachable (a slow kubelet must not raise that banner).
            Err(e) => ExecOutcome::Failed {
                message: e.to_string(),
            },
        }
    }

    /// The objects a `find` names: one by name, or a list by selector — from the shared watch
    /// cache when one is running, from the API server otherwise — with the namespace looked in
    /// (None for cluster-scoped kinds). A workshop learner's finds read their own namespace (the
    /// lab's Namespace is theirs); other namespaces are refused.
    pub(super) async fn fetch(
        &self,
        find: &Find,
        selector: Option<&Selector>,
        lab: &Lab,
    ) -> Result<Fetched, ClusterError> {
        let cluster = &self.inner.cluster;
        let namespaced = cluster.is_namespaced(&find.api_version, &find.kind).await?;
        let mut name = find.name.clone();
        let namespace = if !namespaced {
            if self.learner.namespace.is_some() && find.kind == "Namespace" {
                // A learner's only namespace is their own: other learners' stay invisible.
                match name.as_deref() {
                    Some(n) if n != lab.namespace && n != self.namespace_for(lab) => {
                        return Err(outside_workshop(n));
                    }
                    _ => name = Some(self.namespace_for(lab).to_owned()),
                }
            }
            None
        } else {
            match (&self.learner.namespace, &find.namespace) {
                (Some(_), Some(other)) if *other != lab.namespace => {
                    return Err(outside_workshop(other));
                }
                _ => Some(
                    find.namespace
                        .clone()
                        .filter(|_| self.learner.namespace.is_none())
                        .unwrap_or_else(|| self.namespace_for(lab).to_owned()),
                ),
            }
        };
        let (key, within) = self.scoped_key(WatchKey {
            api_version: find.api_version.clone(),
            kind: find.kind.clone(),
            namespace: namespace.clone(),
        });
        if let Some(cache) = self.cached(&key) {
            let found = cache.snapshot_in(within.as_deref(), name.as_deref(), selector);
            return Ok((found, namespace));
        }
        let found = match name {
            Some(name) => {
                let key = ObjectKey {
                    api_version: find.api_version.clone(),
                    kind: find.kind.clone(),
                    namespace: namespace.clone(),
                    name,
                };
                cluster.get(&key).await?.into_iter().collect()
            }
            None => {
                cluster
                    .list(
                        &find.api_version,
                        &find.kind,
                        namespace.as_deref(),
                        find.selector.as_deref(),
                    )
                    .await?
            }
        };
        Ok((found, namespace))
    }
}

/// What a step's checks need, as read from the cluster: each part, or why it could not be read.
struct Gathered<'s> {
    /// What the placeholders in the checks stand for, for this reader.
    values: Values,
    /// What each check needs, in the step's order.
    needs: Vec<Needs>,
    /// What each distinct `find` returned.
    objects: HashMap<&'s Find, Found>,
    /// The namespace each `find` looked in (none for cluster-scoped kinds).
    searched: HashMap<&'s Find, String>,
    /// The `/version` document, when a check needs it.
    version: Option<Result<Value, ClusterError>>,
    /// Per check: whether its `served` kind is served.
    served: Vec<Option<Result<bool, ClusterError>>>,
    /// Per check: the groups serving its `answer.apiGroupOf` kind.
    groups: Vec<Option<Result<Vec<String>, ClusterError>>>,
    /// Per check: what the SubjectAccessReview of its access question answered.
    access: Vec<Option<Result<AccessOutcome, ClusterError>>>,
    /// Per check: events about its objects and its command's outcome.
    extras: Vec<Result<Extras, ClusterError>>,
}

/// Who the checks are judged for: the namespace the lab works in for them, and whether they
/// are a workshop learner.
struct Reader<'a> {
    home: &'a str,
    confined: bool,
}

impl Gathered<'_> {
    /// Why the cluster could not be reached, when any read failed for that reason.
    fn unavailable(&self) -> Option<String> {
        self.objects
            .values()
            .filter_map(|r| r.as_ref().err())
            .chain(self.version.iter().filter_map(|r| r.as_ref().err()))
            .chain(
                self.served
                    .iter()
                    .flatten()
                    .filter_map(|r| r.as_ref().err()),
            )
            .chain(
                self.groups
                    .iter()
                    .flatten()
                    .filter_map(|r| r.as_ref().err()),
            )
            .chain(
                self.access
                    .iter()
                    .flatten()
                    .filter_map(|r| r.as_ref().err()),
            )
            .chain(self.extras.iter().filter_map(|r| r.as_ref().err()))
            .find_map(|e| match e {
                ClusterError::Unavailable { message } => Some(message.clone()),
                _ => None,
            })
    }

    /// The namespace `check`'s find looked in.
    fn searched_in(&self, check: &CompiledCheck) -> Option<&str> {
        check
            .spec()
            .find
            .as_ref()
            .and_then(|f| self.searched.get(f))
            .map(String::as_str)
    }

    /// The verdict of the step's check number `i`, or why something it needs could not be read.
    fn judge(
        &self,
        i: usize,
        compiled: &CompiledCheck,
        context: &StepContext,
        reader: &Reader<'_>,
    ) -> Result<Verdict, ClusterError> {
        let check = compiled.spec();
        let found: &[Value] = match check.find.as_ref().and_then(|f| self.objects.get(f)) {
            Some(Ok(found)) => found,
            Some(Err(e)) => return Err(e.clone()),
            None => &[],
        };
        let version = match &self.version {
            Some(Ok(v)) if self.needs[i].server_version => Some(v),
            Some(Err(e)) if self.needs[i].server_version => return Err(e.clone()),
            _ => None,
        };
        let served = match &self.served[i] {
            Some(Ok(s)) => Some(*s),
            Some(Err(e)) => return Err(e.clone()),
            None => None,
        };
        let api_groups: &[String] = match &self.groups[i] {
            Some(Ok(g)) => g,
            Some(Err(e)) => return Err(e.clone()),
            None => &[],
        };
        let access = match &self.access[i] {
            Some(Ok(a)) => Some(a),
            Some(Err(e)) => return Err(e.clone()),
            None => None,
        };
        let extras = match &self.extras[i] {
            Ok(x) => x,
            Err(e) => return Err(e.clone()),
        };
        if let Some(settled) = &extras.settled {
            return Ok(settled.clone());
        }
        Ok(compiled.judge(&Observed {
            objects: found,
            namespace: self.searched_in(compiled),
            step_started: context.started.as_deref(),
            events: &extras.events,
            exec: extras.exec.as_ref(),
            answer: context.answers.get(&check.id).map(String::as_str),
            served,
            server_version: version,
            api_groups,
            access,
            home: Some(reader.home),
            confined: reader.confined,
            values: Some(&self.values),
        }))
    }

    /// When the newest object the checks looked at was created.
    fn newest(&self) -> Option<OffsetDateTime> {
        self.objects
            .values()
            .filter_map(|r| r.as_ref().ok())
            .flatten()
            .filter_map(|o| o.pointer("/metadata/creationTimestamp")?.as_str())
            .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .max()
    }
}

/// What one find returned (or why it could not be read).
type Found = Result<Vec<Value>, ClusterError>;

/// The objects a find returned and the namespace it looked in (None for cluster-scoped kinds).
type Fetched = (Vec<Value>, Option<String>);

/// What each find returned, and the namespace it looked in (for diagnostics that say "not found
/// in namespace …").
fn by_find(
    finds: Vec<&Find>,
    fetched: Vec<Result<Fetched, ClusterError>>,
) -> (HashMap<&Find, Found>, HashMap<&Find, String>) {
    let mut objects = HashMap::new();
    let mut searched = HashMap::new();
    for (find, result) in finds.into_iter().zip(fetched) {
        let result = result.map(|(found, namespace)| {
            searched.extend(namespace.map(|ns| (find, ns)));
            found
        });
        objects.insert(find, result);
    }
    (objects, searched)
}

/// The refusal a workshop learner's check gets when it would read another namespace.
pub(super) fn outside_workshop(namespace: &str) -> ClusterError {
    ClusterError::Api {
        code: 403,
        reason: "Forbidden".to_owned(),
        message: format!(
            "this check reads namespace {namespace}, outside your workshop namespace; it is not available in a workshop"
        ),
    }
}
