//! rally-chat: the real-time chat server (see the crate's library for how it works).

use clap::Parser;
use rally_chat::server::{run, Options};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let options = Options::parse();
    if let Err(e) = run(options).await {
        eprintln!("rally-chat: {e}");
        std::process::exit(1);
    }
    // Straight out: nothing is left to wait for once the history is flushed.
    std::process::exit(0);
}
