//! The command line: its arguments ([`args`]) and the subcommands `serve`, `validate` and
//! `check`, each returning a process exit code.

pub mod args;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::checks::Verdict;
use crate::cluster::{ClusterOptions, PublicApiServer, ToolboxSpec};
use crate::engine::{CheckReport, EngineError, TerminalLimits};
use crate::labs::{self, LabSource};
use crate::startup::{self, InstructorCredential, Settings};

pub use args::{CheckArgs, Cli, ClusterArgs, Command, ServeArgs};

/// Runs one subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Validate { dir } => Ok(validate(dir)),
        Command::Check(args) => check(args).await,
    }
}

/// The learner's login shell (`$SHELL`, else `/bin/sh`).
fn local_shell() -> Vec<String> {
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "/bin/sh".to_owned());
    vec![shell, "-l".to_owned()]
}

fn labs_source(args: &ClusterArgs) -> LabSource {
    match &args.labs {
        Some(dir) => LabSource::Dir(dir.clone()),
        None => LabSource::Embedded,
    }
}

fn cluster_options(args: &ClusterArgs) -> ClusterOptions {
    ClusterOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        public_api: None,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let public_api = public_api_server(&args)?;
    let rate_limit = args.rate_limit();
    let learner_quota = args.learner_quota().map_err(anyhow::Error::msg)?;
    let database_url = match args.database_url {
        Some(url) => url,
        None => crate::store::default_database_path().display().to_string(),
    };
    let terminal = startup::terminal_config(
        args.addr,
        args.workshop,
        args.terminal.terminal.then(local_shell),
        ToolboxSpec {
            image: args.terminal.toolbox_image.clone(),
            ..ToolboxSpec::default()
        },
        TerminalLimits {
            per_learner: args.terminal.terminals_per_learner.max(1),
            idle: Duration::from_secs(args.terminal.terminal_idle_minutes.max(1) * 60),
            toolbox_idle: Duration::from_secs(args.terminal.toolbox_idle_minutes.max(1) * 60),
            ..TerminalLimits::default()
        },
    )?;
    let app = startup::start(Settings {
        addr: args.addr,
        database_url,
        labs: labs_source(&args.cluster),
        cluster: ClusterOptions {
            public_api,
            ..cluster_options(&args.cluster)
        },
        workshop: args.workshop,
        secure_cookies: args.secure_cookies,
        rate_limit,
        terminal,
        learner_quota,
    })
    .await?;
    if args.workshop {
        let instructor = format!("{}/instructor", app.url());
        match startup::instructor_credential(&app.engine, args.instructor_token.as_deref()).await? {
            InstructorCredential::Given => {
                println!("workshop mode: instructors sign in at {instructor} with the given token");
            }
            InstructorCredential::Generated(token) => {
                println!(
                    "workshop mode: instructors sign in at {instructor} with this token (shown once; \
                     pass --instructor-token to choose another):\n\n    {token}\n"
                );
            }
            InstructorCredential::Existing => {
                println!(
                    "workshop mode: instructors sign in at {instructor} with the token set earlier \
                     (pass --instructor-token to replace it)"
                );
            }
        }
    }
    if args.workshop {
        print_api_reach(&app);
    }
    println!("kubelab is ready: open {}", app.url());
    app.wait().await?;
    Ok(ExitCode::SUCCESS)
}

/// `--public-api-server` (and its CA), checked before anything starts.
fn public_api_server(args: &ServeArgs) -> anyhow::Result<Option<PublicApiServer>> {
    let Some(url) = args
        .public_api_server
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    else {
        return Ok(None);
    };
    let public = PublicApiServer::new(url, args.public_api_server_ca.as_deref())?;
    if !args.workshop {
        tracing::warn!(
            "--public-api-server only matters in workshop mode (--workshop): it names the API \
             server in learners' kubeconfigs"
        );
    }
    Ok(Some(public))
}

/// Tells the instructor at start when learners' kubeconfigs will not reach the API server (the
/// instructor pages say so too).
fn print_api_reach(app: &startup::RunningApp) {
    let reach = app.engine.learner_api_reach(app.addr.ip().is_loopback());
    if let (true, Some(server)) = (reach.unreachable(), reach.server()) {
        println!(
            "warning: learners' kubeconfigs will name the API server {server}, which their own \
             computers cannot reach; pass --public-api-server https://ADDRESS:PORT with the \
             address they can reach (deploy/README.md, step 5)"
        );
    }
}

fn validate(dir: Option<std::path::PathBuf>) -> ExitCode {
    let source = match dir {
        Some(dir) => LabSource::Dir(dir),
        None => LabSource::Embedded,
    };
    match labs::load(&source) {
        Ok(catalog) => {
            let steps: usize = catalog.labs.iter().map(|l| l.steps.len()).sum();
            let checks: usize = catalog
                .labs
                .iter()
                .flat_map(|l| &l.steps)
                .map(|s| s.checks.len())
                .sum();
            println!(
                "ok: {} labs, {steps} steps, {checks} checks",
                catalog.labs.len()
            );
            ExitCode::SUCCESS
        }
        Err(report) => {
            eprintln!("{report}");
            ExitCode::FAILURE
        }
    }
}

async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let answers = args.answers().map_err(anyhow::Error::msg)?;
    // The step starts `kubelab serve` recorded, so `since: step` counts as on the page.
    let database_url = args.database_url.clone().unwrap_or_else(|| {
        let path = crate::store::default_database_path();
        if path.exists() {
            path.display().to_string()
        } else {
            ":memory:".to_owned()
        }
    });
    let engine = startup::build_engine(
        &labs_source(&args.cluster),
        &database_url,
        &cluster_options(&args.cluster),
    )
    .await?;
    let lab = engine
        .catalog()
        .lab(&args.lab)
        .with_context(|| format!("there is no lab called {:?}", args.lab))?
        .clone();
    let steps: Vec<String> = match &args.step {
        Some(step) => {
            if lab.step(step).is_none() {
                anyhow::bail!("lab {:?} has no step called {step:?}", lab.id);
            }
            vec![step.clone()]
        }
        None => lab.steps.iter().map(|s| s.id.clone()).collect(),
    };
    // Refused as the API refuses them (400): the same rule, the same words.
    if let Some(step) = &args.step {
        engine
            .check_answers(&lab.id, step, &answers)
            .map_err(|e| anyhow::anyhow!("--answer: {e}"))?;
    }
    for id in answers.keys() {
        let asked = steps
            .iter()
            .filter_map(|s| lab.step(s))
            .any(|s| s.checks.iter().any(|c| &c.id == id && c.question.is_some()));
        if !asked {
            anyhow::bail!("--answer: lab {:?} has no question {id:?}", lab.id);
        }
    }
    let mut all_passed = true;
    let mut json_steps = Vec::new();
    for step in &steps {
        let questions = lab.step(step).map(|s| &s.checks);
        let answers: std::collections::BTreeMap<String, String> = answers
            .iter()
            .filter(|(id, _)| {
                questions.is_some_and(|cs| cs.iter().any(|c| &c.id == *id && c.question.is_some()))
            })
            .map(|(id, a)| (id.clone(), a.clone()))
            .collect();
        let reports = match engine.evaluate(&lab.id, step, &answers).await {
            Ok(r) => r,
            Err(EngineError::ClusterUnavailable(message)) => {
                anyhow::bail!("no Kubernetes cluster is reachable: {message}")
            }
            Err(EngineError::BadRequest(message)) => anyhow::bail!("{message}"),
            Err(e) => return Err(e.into()),
        };
        all_passed &= reports.iter().all(|r| r.verdict.is_passed());
        if args.json {
            json_steps.push(serde_json::json!({"step": step, "checks": reports}));
        } else {
            print_step(step, &reports);
        }
    }
    if args.json {
        let out = serde_json::json!({"lab": lab.id, "passed": all_passed, "steps": json_steps});
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_step(step: &str, reports: &[CheckReport]) {
    println!("step {step}");
    for r in reports {
        let mark = match &r.verdict {
            Verdict::Passed => "PASS",
            Verdict::Pending { .. } => "WAIT",
            Verdict::Failed { .. } => "FAIL",
            Verdict::Error { .. } => "ERR ",
        };
        println!("  {mark} {} — {}", r.id, r.title.en);
        let diagnostics = match &r.verdict {
            Verdict::Failed { diagnostics, .. } => {
                println!("    {}", r.reason.en);
                diagnostics.as_slice()
            }
            Verdict::Pending { diagnostics } => diagnostics.as_slice(),
            Verdict::Error { message } => {
                println!("    {message}");
                &[]
            }
            Verdict::Passed => &[],
        };
        for d in diagnostics {
            let path = if d.path.is_empty() {
                "(object)"
            } else {
                &d.path
            };
            println!(
                "    {path}: expected {}, found {}",
                d.expected.en, d.actual.en
            );
        }
    }
}
