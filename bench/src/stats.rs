//! Percentiles of latency samples and the per-run figures a table row shows.

use std::time::Instant;

use crate::server::{own_cpu_seconds, pid_cpu_times, Server};

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub samples: usize,
}

/// Bytes in MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

pub fn percentiles(mut samples: Vec<u64>) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
        samples: samples.len(),
    }
}

/// CPU and wall time spent between `start` and `stop`.
pub struct Window {
    started: Instant,
    pids: Vec<u32>,
    server_cpu: (f64, f64),
    own_cpu: f64,
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Spent {
    pub wall_s: f64,
    /// Summed over every process measured: one server, or a cluster's servers and Redis.
    pub server_cpu_s: f64,
    /// The part of `server_cpu_s` spent in the kernel (system calls, TCP, waking readers).
    pub server_kernel_s: f64,
    pub loadgen_cpu_s: f64,
}

impl Window {
    pub fn start(server: &Server) -> Window {
        Window::over(&[server.pid()])
    }

    /// A window over several processes whose CPU counts as the server's.
    pub fn over(pids: &[u32]) -> Window {
        let pids = pids.to_vec();
        Window {
            started: Instant::now(),
            server_cpu: summed_cpu_times(&pids),
            pids,
            own_cpu: own_cpu_seconds(),
        }
    }

    pub fn stop(self) -> Spent {
        let (user, kernel) = summed_cpu_times(&self.pids);
        let (user_before, kernel_before) = self.server_cpu;
        Spent {
            wall_s: self.started.elapsed().as_secs_f64(),
            server_cpu_s: user + kernel - user_before - kernel_before,
            server_kernel_s: kernel - kernel_before,
            loadgen_cpu_s: own_cpu_seconds() - self.own_cpu,
        }
    }
}

/// User and kernel CPU seconds of `pids`, summed.
fn summed_cpu_times(pids: &[u32]) -> (f64, f64) {
    pids.iter()
        .map(|&pid| pid_cpu_times(pid))
        .fold((0.0, 0.0), |(u, k), (user, kernel)| (u + user, k + kernel))
}

impl Spent {
    /// Server CPU microseconds per operation.
    pub fn cpu_us_per(&self, ops: u64) -> f64 {
        if ops == 0 {
            return 0.0;
        }
        self.server_cpu_s * 1e6 / ops as f64
    }

    /// The kernel's part of the server's CPU.
    pub fn server_kernel_share(&self) -> f64 {
        if self.server_cpu_s == 0.0 {
            return 0.0;
        }
        self.server_kernel_s / self.server_cpu_s
    }

    /// The generator's CPU as a share of the machine's cores over the window.
    pub fn loadgen_share(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        self.loadgen_cpu_s / (self.wall_s * cores)
    }

    pub fn server_share(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        self.server_cpu_s / (self.wall_s * cores)
    }
}
