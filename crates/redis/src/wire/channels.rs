//! The channel names of one namespace: which Redis channel each kind of message travels on,
//! and the pattern a node subscribes to for broadcasts. Names only; subscribing is the
//! transport's business.

use rally::BroadcastOptions;

/// The channel names of one namespace (`P` = prefix, `NSP` = namespace name).
#[derive(Clone, Debug)]
pub struct Channels {
    /// `P#NSP#`: broadcasts to everyone or to several rooms; `P#NSP#room#` for one room.
    pub broadcast: String,
    /// `P#NSP#*`, escaped so that only this namespace's channels match.
    pub pattern: String,
    /// `P-request#NSP#`.
    pub request: String,
    /// `P-response#NSP#`.
    pub response: String,
    /// `P-response#NSP#uid#`.
    pub specific_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` under `prefix`, as seen by the node `uid` (whose own
    /// response channel is `specific_response`).
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Self {
        let broadcast = format!("{prefix}#{nsp}#");
        let response = format!("{prefix}-response#{nsp}#");
        Channels {
            pattern: format!("{}*", glob_escape(&broadcast)),
            broadcast,
            request: format!("{prefix}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// Where a broadcast goes: `P#NSP#room#` when it targets exactly one room, as Node does.
    pub fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// Where this node answers a request from `requester` (None: the emitter or a legacy
    /// node, which sent no uid).
    pub fn response_channel(&self, specific: bool, requester: Option<&str>) -> String {
        match requester {
            Some(uid) if specific => format!("{}{uid}#", self.response),
            _ => self.response.clone(),
        }
    }

    /// The channels a node SUBSCRIBEs to (the broadcasts come through [`pattern`](Self::pattern)).
    pub fn subscribed(&self) -> Vec<String> {
        vec![
            self.request.clone(),
            self.response.clone(),
            self.specific_response.clone(),
        ]
    }
}

/// PSUBSCRIBE treats `* ? [ ] \` as glob syntax; Node does not escape them (and then
/// filters by prefix), we escape them so the pattern means what it says.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_node_adapter() {
        let ch = Channels::new("socket.io", "/", "AbCdEf");
        assert_eq!(ch.broadcast, "socket.io#/#");
        assert_eq!(ch.pattern, "socket.io#/#*");
        assert_eq!(ch.request, "socket.io-request#/#");
        assert_eq!(ch.response, "socket.io-response#/#");
        assert_eq!(ch.specific_response, "socket.io-response#/#AbCdEf#");
        let one = BroadcastOptions {
            rooms: vec!["room1".into()],
            ..Default::default()
        };
        assert_eq!(ch.broadcast_channel(&one), "socket.io#/#room1#");
        let two = BroadcastOptions {
            rooms: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert_eq!(ch.broadcast_channel(&two), "socket.io#/#");
        assert_eq!(
            ch.response_channel(true, Some("XyZ")),
            "socket.io-response#/#XyZ#"
        );
        assert_eq!(
            ch.response_channel(false, Some("XyZ")),
            "socket.io-response#/#"
        );
        assert_eq!(ch.response_channel(true, None), "socket.io-response#/#");
    }

    #[test]
    fn glob_characters_in_names_are_escaped_in_the_pattern() {
        let ch = Channels::new("p", "/a*[b]", "u");
        assert_eq!(ch.pattern, "p#/a\\*\\[b\\]#*");
    }
}
