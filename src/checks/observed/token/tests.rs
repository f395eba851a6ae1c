//! Token questions as a learner meets them: what is kept of a pasted token (never the token),
//! the verdicts over the TokenReview's answer, and validation of what the author writes.

use base64::Engine as _;
use serde_json::json;

use super::super::super::tests::english;
use super::super::super::{CheckSpec, Diagnostic, Verdict, validate};
use super::super::{Observed, evaluate_observed};
use super::*;
use crate::i18n::Text;

fn spec(answer: &str) -> CheckSpec {
    let yaml = format!(
        "id: token\ntitle: {{en: t, zh: t}}\nreason: {{en: r, zh: r}}\nquestion: {{en: q, zh: q}}\nanswer: {{token: {answer}}}"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

const NOW: i64 = 1_796_336_832;

/// A JWT-shaped token with these claims (the signature is not looked at).
fn jwt(claims: serde_json::Value) -> String {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(json!({"alg": "RS256"})),
        b64(claims)
    )
}

fn reader_token(aud: &str, lifetime: i64) -> String {
    jwt(json!({"aud": [aud], "iat": NOW, "exp": NOW + lifetime,
        "sub": "system:serviceaccount:fly-k8s:reader"}))
}

fn reviewed(token: &str, authenticated: bool, username: &str, error: &str) -> TokenReviewed {
    TokenReviewed {
        authenticated,
        username: username.to_owned(),
        audiences: Vec::new(),
        error: error.to_owned(),
        claims: claims(token),
        reviewed_at: NOW + 60,
    }
}

/// The verdict for a review kept as the answer, as a workshop learner (`confined`) or not.
fn judge(check: &CheckSpec, kept: &TokenReviewed, confined: bool) -> Verdict {
    let answer = remember(kept);
    english(evaluate_observed(
        check,
        &Observed {
            answer: Some(&answer),
            home: Some("fly-k8s"),
            confined,
            ..Observed::default()
        },
    ))
}

fn failed(expected: &str, actual: &str) -> Verdict {
    Verdict::Failed {
        diagnostics: vec![Diagnostic::new(
            "token",
            Text::same(expected),
            Text::same(actual),
        )],
        closest: None,
    }
}

const READER: &str = "system:serviceaccount:fly-k8s:reader";
const WHOSE: &str = "a token of ServiceAccount `reader` in namespace `fly-k8s`";

#[test]
fn what_is_kept_holds_the_review_and_never_the_token() {
    let token = reader_token("kubelab-demo", 1800);
    let kept = reviewed(&token, true, READER, "");
    let text = remember(&kept);
    assert!(!text.contains(&token), "{text}");
    let signature_and_payload = token.split_once('.').map(|(_, rest)| rest).unwrap_or("");
    assert!(!text.contains(signature_and_payload), "{text}");
    assert_eq!(recall(&text), Some(kept));
    assert_eq!(recall(&token), None, "a raw token is not a review");
    assert_eq!(recall("{\"authenticated\": true}"), None);
}

#[test]
fn a_reviewed_token_of_the_right_service_account_passes() {
    let check =
        spec("{serviceAccount: reader, audiences: [kubelab-demo], duration: {min: 10m, max: 1h}}");
    assert!(validate(&check).is_empty(), "{:?}", validate(&check));
    let token = reader_token("kubelab-demo", 1800);
    assert_eq!(
        judge(&check, &reviewed(&token, true, READER, ""), false),
        Verdict::Passed
    );
}

#[test]
fn nothing_pasted_yet_is_pending() {
    let check = spec("{serviceAccount: reader}");
    let verdict = english(evaluate_observed(
        &check,
        &Observed {
            home: Some("fly-k8s"),
            ..Observed::default()
        },
    ));
    assert!(matches!(verdict, Verdict::Pending { .. }), "{verdict:?}");
}

#[test]
fn a_wrong_audience_says_which_audience_to_ask_for() {
    let check = spec("{serviceAccount: reader, audiences: [kubelab-demo]}");
    let token = reader_token("https://kubernetes.default.svc.cluster.local", 3600);
    let error = "[invalid bearer token, token audiences [\"https://kubernetes.default.svc.cluster.local\"] is invalid for the target audiences [\"kubelab-demo\"]]";
    assert_eq!(
        judge(&check, &reviewed(&token, false, "", error), false),
        failed(
            "a token for audience `kubelab-demo` (`kubectl create token … --audience kubelab-demo`)",
            "a token for audience `https://kubernetes.default.svc.cluster.local`"
        )
    );
    let plain = spec("{serviceAccount: reader}");
    let token = reader_token("kubelab-demo", 3600);
    let error = "[invalid bearer token, token audiences [\"kubelab-demo\"] is invalid for the target audiences [\"https://kubernetes.default.svc.cluster.local\"]]";
    assert_eq!(
        judge(&plain, &reviewed(&token, false, "", error), false),
        failed(
            "a token for the API server itself (created without `--audience`)",
            "a token for audience `kubelab-demo`"
        )
    );
}

#[test]
fn an_expired_token_says_when_it_expired() {
    let check = spec("{serviceAccount: reader}");
    let token = jwt(json!({"aud": ["x"], "iat": NOW - 700, "exp": NOW - 100}));
    let error = "[invalid bearer token, service account token has expired]";
    assert_eq!(
        judge(&check, &reviewed(&token, false, "", error), false),
        failed(
            "a token that has not expired",
            "expired at 22:25:32 UTC; create a new one"
        )
    );
}

#[test]
fn garbage_is_not_a_token() {
    let check = spec("{serviceAccount: reader}");
    let kept = reviewed("not a token", false, "", "invalid bearer token");
    assert_eq!(
        judge(&check, &kept, false),
        failed(
            WHOSE,
            "not a ServiceAccount token: a token is three parts separated by dots, the whole line `kubectl create token` prints"
        )
    );
    let forged =
        jwt(json!({"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": NOW + 600}));
    assert_eq!(
        judge(
            &check,
            &reviewed(&forged, false, "", "invalid bearer token"),
            false
        ),
        failed(
            WHOSE,
            "not accepted by the cluster (`invalid bearer token`)"
        )
    );
    let deleted = reviewed(
        &reader_token("https://kubernetes.default.svc.cluster.local", 600),
        false,
        "",
        "[invalid bearer token, serviceaccounts \"reader\" not found]",
    );
    assert_eq!(
        judge(&check, &deleted, false),
        failed(
            "a token whose ServiceAccount still exists",
            "its ServiceAccount no longer exists (`[invalid bearer token, serviceaccounts \"reader\" not found]`)"
        )
    );
}

#[test]
fn someone_elses_token_is_named_unless_another_learner_owns_it() {
    let check = spec("{serviceAccount: reader}");
    let token = reader_token("https://kubernetes.default.svc.cluster.local", 3600);
    let default = reviewed(&token, true, "system:serviceaccount:fly-k8s:default", "");
    let expected = failed(
        WHOSE,
        "a token of ServiceAccount `default` in namespace `fly-k8s`",
    );
    assert_eq!(judge(&check, &default, false), expected);
    assert_eq!(judge(&check, &default, true), expected);
    let other = reviewed(&token, true, "system:serviceaccount:kl-other-2:reader", "");
    assert_eq!(
        judge(&check, &other, false),
        failed(
            WHOSE,
            "a token of ServiceAccount `reader` in namespace `kl-other-2`"
        )
    );
    assert_eq!(
        judge(&check, &other, true),
        failed(WHOSE, "a token of a ServiceAccount in another namespace")
    );
    let admin = reviewed(&token, true, "admin", "");
    assert_eq!(
        judge(&check, &admin, false),
        failed(WHOSE, "a token of user `admin`")
    );
    assert_eq!(
        judge(&check, &admin, true),
        failed(WHOSE, "a token of another user")
    );
}

#[test]
fn the_lifetime_is_read_from_the_token_and_checked_against_the_range() {
    let check = spec("{serviceAccount: reader, duration: {min: 10m, max: 1h}}");
    let long = reader_token("https://kubernetes.default.svc.cluster.local", 7200);
    assert_eq!(
        judge(&check, &reviewed(&long, true, READER, ""), false),
        failed(
            "a token valid for between `10m` and `1h` (`kubectl create token … --duration`)",
            "valid for `2h` (until 00:27:12 UTC)"
        )
    );
    let at_most = spec("{serviceAccount: reader, duration: {max: 30m}}");
    let fine = reader_token("https://kubernetes.default.svc.cluster.local", 1800);
    assert_eq!(
        judge(&at_most, &reviewed(&fine, true, READER, ""), false),
        Verdict::Passed
    );
}

#[test]
fn durations_read_and_show_like_kubectls() {
    assert_eq!(parse_duration("10m"), Some(600));
    assert_eq!(parse_duration("1h30m"), Some(5400));
    assert_eq!(parse_duration("90s"), Some(90));
    assert_eq!(parse_duration("10"), None);
    assert_eq!(parse_duration("ten minutes"), None);
    assert_eq!(show_duration(5400), "1h30m");
    assert_eq!(show_duration(600), "10m");
}

#[test]
fn a_pasted_token_loses_whitespace_and_a_bearer_prefix() {
    assert_eq!(pasted("  abc.def.ghi\n"), "abc.def.ghi");
    assert_eq!(pasted("Bearer abc.def.ghi"), "abc.def.ghi");
}

#[test]
fn validation_refuses_ranges_no_token_can_meet() {
    assert_eq!(
        validate(&spec("{serviceAccount: reader, duration: {max: 5m}}")),
        vec![
            "`answer.token.duration.max` is under 10 minutes, and the API server issues no token that short: no answer could be right."
        ]
    );
    assert_eq!(
        validate(&spec(
            "{serviceAccount: reader, duration: {min: 2h, max: 1h}}"
        )),
        vec!["`answer.token.duration.min` is longer than its `max`."]
    );
    assert_eq!(
        validate(&spec("{serviceAccount: reader, duration: {min: soon}}")),
        vec![
            "`answer.token.duration.min` \"soon\" is not a duration; write it like `kubectl create token --duration` takes it: `10m`, `1h`, `1h30m`."
        ]
    );
    let mut normalized = spec("{serviceAccount: reader}");
    normalized.normalize = Some(crate::checks::Normalize::Text);
    assert_eq!(
        validate(&normalized),
        vec![
            "`normalize` does not apply to `answer.token`: the pasted token is verified by the cluster, not compared as text."
        ]
    );
}

#[test]
fn a_workshop_keeps_token_questions_to_the_learners_service_accounts() {
    assert!(outside_namespace(&token_spec("reader"), "fly-k8s").is_empty());
    assert_eq!(
        outside_namespace(&token_spec("kube-system:admin"), "fly-k8s"),
        vec![
            "it asks for a token of a ServiceAccount of namespace `kube-system`, but a workshop learner has only their own namespace's"
        ]
    );
}

fn token_spec(service_account: &str) -> TokenSpec {
    TokenSpec {
        service_account: service_account.to_owned(),
        audiences: Vec::new(),
        duration: None,
    }
}
