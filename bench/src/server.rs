//! The servers under test: spawning them, and reading their CPU time and memory from
//! `/proc` — the figures that stay fair when generator and server share the cores.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Rally,
    Node,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rally => "rally",
            Kind::Node => "node socket.io",
        }
    }
}

pub struct Server {
    pub port: u16,
    /// The packet format it was started with, which its clients must speak.
    pub parser: rally::Parser,
    child: Child,
}

/// Makes `command`'s process die with this one, however this one ends, so that a tool
/// stopped from outside leaves no server behind.
fn dies_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to end the child
    // with its parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

impl Server {
    pub fn start(kind: Kind, root: &str) -> Result<Server, String> {
        Server::start_with(kind, root, &[])
    }

    /// `start` with the packet format `parser` (both fixtures take `--parser`).
    pub fn start_parser(kind: Kind, root: &str, parser: rally::Parser) -> Result<Server, String> {
        let name = parser.to_string();
        let mut server = Server::start_with(kind, root, &["--parser", &name])?;
        server.parser = parser;
        Ok(server)
    }

    /// `start` with more options for the server (both fixtures take the same ones).
    pub fn start_with(kind: Kind, root: &str, options: &[&str]) -> Result<Server, String> {
        let mut command = match kind {
            Kind::Rally => Command::new(format!("{root}/target/release/bench-server")),
            Kind::Node => {
                let mut c = Command::new("node");
                c.arg(format!("{root}/bench/node/server.js"));
                c
            }
        };
        command.args(["--port", "0"]).args(options);
        Server::spawn(command, kind.name())
    }

    /// Starts a server that prints `listening on ADDR` once it accepts connections. It
    /// dies with this process, however this process ends.
    pub fn spawn(mut command: Command, name: &str) -> Result<Server, String> {
        dies_with_parent(&mut command);
        let mut child = command
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {name} server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{name} server said {line:?} instead of `listening on ADDR`"))?;
        Ok(Server {
            port,
            parser: rally::Parser::Json,
            child,
        })
    }

    /// The command that starts the chat server at `path` for a tool: any free port, its
    /// history in memory, no rate limit a tool's clients would hit.
    pub fn chat_command(path: &str) -> Command {
        let mut command = Command::new(path);
        command.args(["--port", "0", "--db", ":memory:", "--rate-burst", "1000000"]);
        command
    }

    /// `spawn`, for a tool that cannot go on without its server: says why as `tool`, and
    /// exits with status 2.
    pub fn spawn_or_exit(command: Command, name: &str, tool: &str) -> Server {
        Server::spawn(command, name).unwrap_or_else(|e| {
            eprintln!("{tool}: {e}");
            std::process::exit(2);
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User and kernel CPU seconds so far.
    pub fn cpu_times(&self) -> (f64, f64) {
        pid_cpu_times(self.pid())
    }

    /// Resident memory in bytes.
    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(&format!("/proc/{}/status", self.pid()))
    }

    /// The lowest resident memory seen over `window`, sampled four times a second.
    /// The chat hands freed pages back to the kernel only every few seconds
    /// (`malloc_trim`), so one reading lands before or after that at random; two
    /// readings compared must both span a full period to compare like with like.
    pub async fn settled_rss_bytes(&self, window: Duration) -> u64 {
        let end = tokio::time::Instant::now() + window;
        let mut lowest = self.rss_bytes();
        while tokio::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(250)).await;
            lowest = lowest.min(self.rss_bytes());
        }
        lowest
    }

    /// How many files (sockets included) the server has open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the kernel release the ports before the next server starts.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A throwaway `redis-server` for a cluster of servers under test: on a free loopback
/// port, nothing written to disk, gone with this process.
pub struct Redis {
    pub port: u16,
    child: Child,
}

impl Redis {
    pub fn start() -> Result<Redis, String> {
        let port = loop {
            let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
            let port = probe.local_addr().map_err(|e| e.to_string())?.port();
            // The machine's own Redis lives there; never come near it.
            if port != 6379 {
                break port;
            }
        };
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null());
        dies_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let redis = Redis { port, child };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !redis.answers_ping() {
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "redis-server on port {port} did not answer within 5 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    fn answers_ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cpu_seconds(stat_path: &str) -> f64 {
    let (user, kernel) = cpu_times(stat_path);
    user + kernel
}

/// User and kernel CPU seconds of the process `pid`.
pub fn pid_cpu_times(pid: u32) -> (f64, f64) {
    cpu_times(&format!("/proc/{pid}/stat"))
}

/// User and kernel CPU seconds of a process, from its `/proc/<pid>/stat`.
pub fn cpu_times(stat_path: &str) -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let Some(rest) = stat.rsplit(')').next() else {
        return (0.0, 0.0);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) / hz, ticks(12) / hz)
}

pub fn rss_bytes(status_path: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(status_path) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The generator's own CPU time, to tell when it rather than the server was the limit.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

/// Raises this process's open-file limit as far as the hard limit allows; returns it.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    limit.rlim_cur
}

/// The chat server's `/health` on `port`, as JSON (null when it does not answer).
pub async fn chat_health(port: u16) -> serde_json::Value {
    let Ok(stream) = crate::raw_http::connect_from(2, port).await else {
        return serde_json::Value::Null;
    };
    match crate::raw_http::Connection::new(stream)
        .request("GET", "/health", b"")
        .await
    {
        Ok(answer) => serde_json::from_str(&answer.text()).unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}
