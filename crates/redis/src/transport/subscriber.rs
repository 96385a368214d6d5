//! The subscriber task: one RESP2 pub/sub connection that (re)subscribes every registered
//! subscription on each connection, hands messages to [`Transport::dispatch`], pings to
//! notice a dead connection, refreshes the server counts, and reconnects by itself.

use super::shared::{PubCmd, SubCmd, Transport, BACKOFF_MAX, BACKOFF_MIN};
use crate::connection::{ConnectError, Reconnect};
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

/// How often the subscriber pings Redis and refreshes the server counts.
const HEALTH_INTERVAL: Duration = Duration::from_secs(3);
/// Channels per SUBSCRIBE command when resubscribing.
const SUBSCRIBE_CHUNK: usize = 256;

pub(super) async fn run(
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<SubCmd>,
    transport: Weak<Transport>,
) {
    use futures::StreamExt;

    let Some(config) = transport.upgrade().map(|t| t.config.clone()) else {
        return;
    };
    let mut reconnect = Reconnect::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut connected_before = false;
    loop {
        let attempt = reconnect
            .attempt(config.connect_timeout * 2, client.get_async_pubsub())
            .await;
        let pubsub = match attempt {
            Ok(pubsub) => pubsub,
            Err(e) => {
                match e {
                    ConnectError::Failed(e) => {
                        tracing::debug!("redis adapter: subscriber cannot connect: {e}");
                    }
                    ConnectError::TimedOut => {
                        tracing::debug!("redis adapter: subscriber connection attempt timed out");
                    }
                }
                // Wait before the next attempt; commands only nudge a live connection (the
                // routes are the truth and are resubscribed whole), so they are dropped here.
                let wait = reconnect.wait();
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        cmd = rx.recv() => if cmd.is_none() { return },
                    }
                }
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let Some(strong) = transport.upgrade() else {
            return;
        };
        let (patterns, channels) = strong.subscriptions();
        let mut ok = true;
        for chunk in patterns.chunks(SUBSCRIBE_CHUNK) {
            ok &= sink.psubscribe(chunk).await.is_ok();
        }
        for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
            ok &= sink.subscribe(chunk).await.is_ok();
        }
        if !ok {
            tracing::debug!("redis adapter: subscribing failed; reconnecting");
            drop(strong);
            reconnect.retry_later();
            reconnect.wait().await;
            continue;
        }
        reconnect.connected();
        strong.set_subscriber_up(true);
        if connected_before {
            tracing::info!(
                "redis adapter: subscriber reconnected, {} namespace(s) resubscribed",
                patterns.len()
            );
        }
        connected_before = true;
        strong.refresh_server_counts();
        drop(strong);

        let mut health =
            tokio::time::interval_at(Instant::now() + HEALTH_INTERVAL, HEALTH_INTERVAL);
        let why = loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => match transport.upgrade() {
                        Some(transport) => transport.dispatch(&msg),
                        None => return,
                    },
                    None => break "connection closed",
                },
                cmd = rx.recv() => {
                    let result = match cmd {
                        Some(SubCmd::Subscribe { pattern, channels }) => {
                            let subscribed = match pattern {
                                Some(pattern) => sink.psubscribe(&pattern).await,
                                None => Ok(()),
                            };
                            match subscribed {
                                Ok(()) => sink.subscribe(&channels).await,
                                Err(e) => Err(e),
                            }
                        }
                        Some(SubCmd::Unsubscribe { pattern, channels }) => {
                            let unsubscribed = match pattern {
                                Some(pattern) => sink.punsubscribe(&pattern).await,
                                None => Ok(()),
                            };
                            match unsubscribed {
                                Ok(()) => sink.unsubscribe(&channels).await,
                                Err(e) => Err(e),
                            }
                        }
                        None => return,
                    };
                    if result.is_err() {
                        break "subscribe command failed";
                    }
                }
                _ = health.tick() => {
                    let ping = timeout(config.command_timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        break "ping failed";
                    }
                    match transport.upgrade() {
                        Some(transport) => transport.refresh_server_counts(),
                        None => return,
                    }
                }
            }
        };
        let Some(strong) = transport.upgrade() else {
            return;
        };
        strong.set_subscriber_up(false);
        tracing::warn!("redis adapter: subscriber lost Redis ({why}); reconnecting");
        let _ = strong.publisher.send(PubCmd::Reset);
        drop(strong);
        reconnect.retry_later();
        reconnect.wait().await;
    }
}
