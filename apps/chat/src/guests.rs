//! Guest names: what a visitor who has not chosen a name is called (`guest-4821`).
//!
//! A guest name must be unique among the people online, on every server of a cluster. A
//! name is drawn at random, then checked three ways: against the names online (the
//! adapter's `fetch_sockets`, so the whole cluster), against the names this server handed
//! out lately, and, on a cluster, by claiming it in Redis (`SET … NX PX`) so that two
//! servers drawing the same number at the same moment cannot both hand it out. Both
//! reservations last `RESERVATION`, longer than any look at the names online can take:
//! a server whose look began before the name's socket was visible cannot hand the name
//! out again, because the claim still stands. They end sooner when the name is given up
//! (`release`: its socket left or took another name), so a guest who comes back at once
//! can have it again.
//!
//! Chosen names never take the guest shape (`validate_chosen_name`), so a guest name is
//! never somebody else's chosen name either.

use crate::lock;
use rally::{RemoteSocket, Server};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{timeout, Instant};

const PREFIX: &str = "guest-";

/// How long a name handed out stays reserved: by then its socket is visible to every
/// look at the names online that could miss it (a cluster request gives up sooner).
const RESERVATION: Duration = Duration::from_secs(10);

/// Draws before giving up on a short name (the space grows with the crowd, so this is
/// only reached when the cluster cannot be asked and luck is very bad).
const DRAWS: usize = 32;

/// Whether `name` has the shape of a guest name (`guest-` and digits, any case).
pub fn is_guest_name(name: &str) -> bool {
    match (name.get(..PREFIX.len()), name.get(PREFIX.len()..)) {
        (Some(head), Some(digits)) => {
            head.eq_ignore_ascii_case(PREFIX)
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Hands out guest names; one per server.
pub struct GuestNames {
    io: Server,
    recent: Mutex<HashMap<String, Instant>>,
    claims: Option<RedisClaims>,
}

impl GuestNames {
    /// Guest names for a standalone server.
    pub fn new(io: Server) -> Self {
        GuestNames {
            io,
            recent: Mutex::default(),
            claims: None,
        }
    }

    /// Guest names for a cluster member: claims go to this Redis, under `<prefix>:chat:guest:`.
    pub fn clustered(io: Server, url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        Ok(GuestNames {
            claims: Some(RedisClaims {
                client,
                key_prefix: format!("{prefix}:chat:guest:"),
                owner: format!("{:016x}", rand::random::<u64>()),
                conn: Arc::default(),
            }),
            ..GuestNames::new(io)
        })
    }

    /// A guest name no one online has: `previous` (a reconnecting guest's) when it is
    /// free, else a new one.
    pub async fn allocate(&self, previous: Option<&str>) -> String {
        let taken = self.names_online().await;
        let mut rng = rand::rngs::OsRng;
        let mut previous = previous.map(str::to_owned);
        for _ in 0..DRAWS {
            let name = {
                let mut recent = lock(&self.recent);
                let now = Instant::now();
                recent.retain(|_, at| now.duration_since(*at) < RESERVATION);
                // Four digits while few are online, then as many as keep a draw likely free.
                let crowd = (taken.len() + recent.len()).max(1) * 10;
                let mut low = 1000u64;
                while (low * 9) < crowd as u64 {
                    low *= 10;
                }
                let name = previous
                    .take()
                    .unwrap_or_else(|| format!("{PREFIX}{}", rng.gen_range(low..low * 10)));
                if taken.contains(&name) || recent.contains_key(&name) {
                    continue;
                }
                recent.insert(name.clone(), now);
                name
            };
            match &self.claims {
                Some(claims) => match claims.claim(&name).await {
                    Ok(true) => return name,
                    Ok(false) => continue,
                    Err(why) => {
                        tracing::debug!("guest name {name} not claimed in Redis: {why}");
                        return name;
                    }
                },
                None => return name,
            }
        }
        // Out of luck: a name this long is unique by its randomness alone.
        format!("{PREFIX}{}", rng.gen_range(100_000_000u64..1_000_000_000))
    }

    /// Nobody goes by `name` any more (its socket left, or took another name): this
    /// server's reservations of it end now instead of when they expire.
    pub fn release(&self, name: &str) {
        let reserved = lock(&self.recent).remove(name).is_some();
        if let (true, Some(claims)) = (reserved, &self.claims) {
            let claims = claims.clone();
            let name = name.to_owned();
            tokio::spawn(async move {
                if let Err(why) = claims.release(&name).await {
                    tracing::debug!("guest name {name} not released in Redis (it expires): {why}");
                }
            });
        }
    }

    /// Names online: on the whole cluster when it answers, else on this server.
    async fn names_online(&self) -> HashSet<String> {
        let sockets = match self.io.sockets().fetch_sockets().await {
            Ok(sockets) => sockets,
            Err(e) => {
                tracing::debug!("guest name checked against this server only: {e}");
                self.io.local().fetch_sockets().await.unwrap_or_default()
            }
        };
        names(&sockets)
    }
}

fn names(sockets: &[RemoteSocket]) -> HashSet<String> {
    sockets
        .iter()
        .filter_map(crate::user::remote_name)
        .collect()
}

/// Short-lived claims in Redis, so two servers never hand out one name at once.
#[derive(Clone)]
struct RedisClaims {
    client: redis::Client,
    key_prefix: String,
    /// This server's mark on its claims, so that it releases only its own.
    owner: String,
    conn: Arc<tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>>,
}

impl RedisClaims {
    const BOUND: Duration = Duration::from_secs(1);

    /// True when this server now holds the name for a while; false when another does.
    async fn claim(&self, name: &str) -> Result<bool, String> {
        let mut set = redis::cmd("SET");
        set.arg(format!("{}{name}", self.key_prefix))
            .arg(&self.owner)
            .arg("NX")
            .arg("PX")
            .arg(RESERVATION.as_millis() as u64);
        let answer: Option<String> = self.query(set).await?;
        Ok(answer.is_some())
    }

    /// Drops this server's claim on the name (a claim that expired and was taken by
    /// another server meanwhile is left alone).
    async fn release(&self, name: &str) -> Result<(), String> {
        let mut release = redis::cmd("EVAL");
        release
            .arg("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
            .arg(1)
            .arg(format!("{}{name}", self.key_prefix))
            .arg(&self.owner);
        self.query::<i64>(release).await.map(|_| ())
    }

    /// One command, bounded in time, on a connection made when first needed.
    async fn query<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, String> {
        let mut conn = self.conn.lock().await;
        if conn.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Self::BOUND))
                .set_response_timeout(Some(Self::BOUND));
            let made = timeout(
                Self::BOUND * 2,
                self.client
                    .get_multiplexed_async_connection_with_config(&config),
            )
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| e.to_string())?;
            *conn = Some(made);
        }
        let connection = conn.as_mut().expect("connected above");
        let answer = timeout(Self::BOUND, command.query_async::<T>(connection)).await;
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                *conn = None;
                Err(e.to_string())
            }
            Err(_) => {
                *conn = None;
                Err("timed out".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_guest_name;

    #[test]
    fn guest_shape() {
        assert!(is_guest_name("guest-4821"));
        assert!(is_guest_name("Guest-12"));
        assert!(!is_guest_name("guest-"));
        assert!(!is_guest_name("guest-48a"));
        assert!(!is_guest_name("guesthouse"));
        assert!(!is_guest_name("ann"));
        assert!(!is_guest_name("gués-12"));
        assert!(!is_guest_name("gu€st-12"));
    }
}
