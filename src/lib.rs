//! kubelab turns a Kubernetes study document into guided labs that check themselves against a
//! real cluster. Data flows `labs → cluster → checks → store → web`, combined in `engine`.
#![forbid(unsafe_code)]

pub mod checks;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod i18n;
pub mod labs;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

pub use startup::{RunningApp, Settings, start};
