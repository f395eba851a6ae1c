//! The one integration-test binary: kubelab against a fake Kubernetes API server over real HTTP.

mod access;
mod app;
mod browser;
mod cluster;
mod differential;
mod live;
mod real;
mod replay;
mod scenarios;
mod store;
mod support;
mod terminal;
mod validate;
mod web;
mod workshop;
mod workshop_web;
