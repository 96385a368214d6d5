//! Departures: telling the others that someone left, or not yet.
//!
//! A client offered connection state recovery whose connection drops may come back
//! as the same socket, with its rooms, within the recovery window: the others then
//! never see it leave and come back. Its "left" notices and the presence change wait
//! for the window to pass; they are dropped if it returns. Leaving on purpose, or
//! without recovery, is told at once.

use super::Chat;
use crate::lock;
use crate::user::name_of;
use rally::{DisconnectReason, Socket};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::AbortHandle;

/// How much longer than the window a departure waits: the session is surely gone by then.
const MARGIN: Duration = Duration::from_secs(1);

/// Departures not yet told, by socket id.
#[derive(Default)]
pub(super) struct Departures(Mutex<HashMap<String, AbortHandle>>);

impl Chat {
    /// A socket is leaving (its rooms still readable): its departure is told now, or
    /// when it has not come back within the recovery window.
    pub(super) fn departing(&self, socket: &Socket, reason: DisconnectReason) {
        let name = name_of(socket);
        tracing::info!(socket = %socket.id(), name = %name, reason = reason.as_str(), "disconnected");
        self.0.guests.release(&name);
        let rooms = self.chat_rooms(socket);
        self.stop_all_typing(socket);
        let window = self
            .0
            .io
            .config()
            .connection_state_recovery
            .as_ref()
            .map(|r| r.max_disconnection_duration);
        let Some(window) = window.filter(|_| socket.recovery_offered() && reason.keeps_session())
        else {
            return self.announce_departure(&name, rooms);
        };
        let chat = self.clone();
        let sid = socket.id().to_string();
        let mut departures = lock(&self.0.departures.0);
        let told = tokio::spawn({
            let sid = sid.clone();
            async move {
                tokio::time::sleep(window + MARGIN).await;
                lock(&chat.0.departures.0).remove(&sid);
                chat.announce_departure(&name, rooms);
            }
        });
        departures.insert(sid, told.abort_handle());
    }

    /// A recovered socket is back: its departure is never told.
    pub(super) fn returned(&self, socket: &Socket) {
        if let Some(told) = lock(&self.0.departures.0).remove(&**socket.id()) {
            told.abort();
        }
    }

    fn announce_departure(&self, name: &str, rooms: Vec<String>) {
        for room in &rooms {
            self.notice(Some(room), format!("{name} left"));
        }
        self.presence_changed(true, rooms);
    }
}
