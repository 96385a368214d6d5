//! Presence: who is online and who is in which room, read from the adapter
//! (`fetch_sockets`, so the whole cluster) and published in coalesced snapshots
//! (`users`, `rooms`, `room_members`) by the server where something changed.

use super::Chat;
use crate::lock;
use crate::user::listed_name;
use rally::AdapterError;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Presence changes not yet published.
#[derive(Default)]
pub(super) struct Presence(Mutex<PendingPresence>);

#[derive(Default)]
struct PendingPresence {
    scheduled: bool,
    users: bool,
    rooms: BTreeSet<String>,
}

impl Chat {
    /// Publishes a whole snapshot: the users, the rooms, and the member list of every room
    /// this server's sockets are in (after the cluster's Redis came back).
    pub fn resync_presence(&self) {
        let mut rooms = BTreeSet::new();
        for socket in self.0.io.sockets().local_sockets() {
            rooms.extend(self.chat_rooms(&socket));
        }
        self.presence_changed(true, rooms);
    }

    /// Notes a change; one snapshot follows after `presence_delay`.
    pub(super) fn presence_changed(&self, users: bool, rooms: impl IntoIterator<Item = String>) {
        let mut pending = lock(&self.0.presence.0);
        pending.users |= users;
        pending.rooms.extend(rooms);
        if pending.scheduled {
            return;
        }
        pending.scheduled = true;
        drop(pending);
        let chat = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(chat.0.config.presence_delay).await;
            let (users, rooms) = {
                let mut pending = lock(&chat.0.presence.0);
                pending.scheduled = false;
                (
                    std::mem::take(&mut pending.users),
                    std::mem::take(&mut pending.rooms),
                )
            };
            chat.publish_presence(users, rooms).await;
        });
    }

    /// `users` (when they changed) and `rooms` to everyone, `room_members` to each changed room.
    async fn publish_presence(&self, users_changed: bool, changed_rooms: BTreeSet<String>) {
        let io = &self.0.io;
        let sockets = match io.sockets().fetch_sockets().await {
            Ok(sockets) => sockets,
            // The cluster's Redis is away: this server's own sockets, for its own clients
            // (the broadcasts do not leave this server meanwhile).
            Err(AdapterError::Unavailable(why)) => {
                tracing::debug!("presence from this server only: {why}");
                match io.local().fetch_sockets().await {
                    Ok(sockets) => sockets,
                    Err(e) => {
                        tracing::warn!("presence not published: {e}");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!("presence not published: {e}");
                return;
            }
        };
        let mut users = Vec::with_capacity(sockets.len());
        let mut members: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for s in &sockets {
            let user = json!({ "id": s.id, "name": listed_name(s) });
            for room in s.rooms.iter().filter(|room| **room != s.id) {
                members.entry(room).or_default().push(user.clone());
            }
            users.push(user);
        }
        let by_name = |a: &Value, b: &Value| {
            let key = |v: &Value| (v["name"].to_string().to_lowercase(), v["id"].to_string());
            key(a).cmp(&key(b))
        };
        users.sort_by(by_name);
        if users_changed {
            let _ = io.emit("users", (users,));
        }
        let overview: Vec<Value> = members
            .iter()
            .map(|(name, list)| json!({ "name": name, "members": list.len() }))
            .collect();
        let _ = io.emit("rooms", (overview,));
        for room in &changed_rooms {
            let mut list = members.get(room.as_str()).cloned().unwrap_or_default();
            list.sort_by(by_name);
            let _ = io.to(room.as_str()).emit("room_members", (room, list));
        }
    }
}
