//! End-to-end tests of the `sante` binary: each test runs the real program in a
//! temporary directory and talks to it over HTTPS on loopback, as an operator or a
//! browser would. This is the binary's one integration-test binary; add modules here.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

mod accounts;
mod cli;
mod directory;
mod dsp;
mod fhir;
mod harness;
mod limits;
mod mail;
mod portal;
mod serve;
mod sso;
mod strong_auth;
mod systems;
mod tls_posture;
