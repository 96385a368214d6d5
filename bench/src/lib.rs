//! rally-bench: what Rally's load and limit tools share — a minimal Socket.IO client
//! (`client`), the servers under test and their `/proc` figures (`server`), the
//! benchmark scenarios (`scenarios`) and their statistics (`stats`). The binaries are
//! `loadgen` (the side-by-side benchmark) and `abandon` (sessions left half-way are
//! forgotten on time).

pub mod client;
pub mod raw_http;
pub mod scenarios;
pub mod server;
pub mod stats;
