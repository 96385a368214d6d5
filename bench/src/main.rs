//! loadgen: drives Rally's benchmark fixture and the Node.js socket.io peer with the
//! same load, one after the other, and prints a table per scenario.
//!
//! Loopback only, bounded in clients and time. Each run of a scenario gets a fresh
//! server process; the order of the two servers alternates from one scenario to the
//! next. Server CPU per operation (read from `/proc`) is the fair figure when the
//! generator and the server share the machine's cores; the generator's own CPU share
//! is printed so a reader can tell when it, not the server, was the limit. The cluster
//! scenarios (`cluster`) start two servers and a throwaway `redis-server` of their own.

use clap::Parser;
use rally_bench::scenarios;
use rally_bench::server::{self, Kind, Server};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Measures Rally against Node.js socket.io on this machine")]
struct Options {
    /// The repository's root (where target/release/bench-server and bench/node live).
    #[arg(long, default_value = ".")]
    root: String,
    /// Seconds each measured phase lasts.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Scenarios to run (comma-separated): connections,broadcast,latency,echo,rooms,private,stalled,cluster
    /// (`cluster` is cluster-classic and cluster-streams, one per Redis adapter), and
    /// broadcast-msgpack,echo-msgpack (the same with socket.io-msgpack-parser on both
    /// sides).
    #[arg(
        long,
        default_value = "connections,broadcast,broadcast-msgpack,latency,echo,echo-msgpack,rooms,private,stalled,cluster"
    )]
    only: String,
    /// Servers to measure (comma-separated): rally,node.
    #[arg(long, default_value = "rally,node")]
    servers: String,
    /// Where to write every figure as JSON.
    #[arg(long, default_value = "artifacts/bench/results.json")]
    out: String,
    /// Runs of each scenario per server, alternating which goes first; the tables
    /// show every run and the medians of the scenario's key figure.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

/// The figure each scenario's targets are about: a JSON pointer into a run's
/// figures and what it is.
fn key_figure(scenario: &str) -> Option<(&'static str, &'static str)> {
    let scenario = scenario.strip_suffix("-msgpack").unwrap_or(scenario);
    Some(match scenario {
        "connections" => ("/at_5000/cpu_us_per_connection", "CPU µs / new connection"),
        "broadcast" => ("/cpu_us_per_delivery", "CPU µs / delivery"),
        "latency" => ("/latency_us/p99", "p99 µs"),
        "echo" => ("/cpu_us_per_ack", "CPU µs / ack"),
        "rooms" => ("/cpu_us_per_delivery", "CPU µs / delivery"),
        "private" => ("/cpu_us_per_message", "CPU µs / message"),
        "stalled" => (
            "/with_stalled/latency_second_half_us/p99",
            "p99 µs with stalled clients (second half)",
        ),
        "cluster-classic" | "cluster-streams" => (
            "/vs_single_server",
            "cluster CPU µs / delivery at 40 000/s over one server's",
        ),
        _ => return None,
    })
}

/// The run whose key figure is the median, with every run attached.
fn median_run(runs: Vec<Value>, pointer: &str) -> (Value, f64) {
    let mut keyed: Vec<(f64, Value)> = runs
        .iter()
        .map(|run| {
            (
                run.pointer(pointer)
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN),
                run.clone(),
            )
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (key, mut median) = keyed.swap_remove(keyed.len() / 2);
    if runs.len() > 1 {
        if let Value::Object(fields) = &mut median {
            fields.insert("runs".into(), Value::Array(runs));
        }
    }
    (median, key)
}

fn kinds(options: &Options, scenario_index: usize) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = options
        .servers
        .split(',')
        .filter_map(|s| match s.trim() {
            "rally" => Some(Kind::Rally),
            "node" => Some(Kind::Node),
            _ => None,
        })
        .collect();
    if scenario_index % 2 == 1 {
        kinds.reverse();
    }
    kinds
}

fn kib(bytes: f64) -> String {
    format!("{:.2} KiB", bytes / 1024.0)
}

/// Microseconds shown as milliseconds.
fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    println!("\n### {title}\n");
    println!("| {} |", header.join(" | "));
    println!(
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    let fd_limit = server::raise_fd_limit();
    let duration = Duration::from_secs(options.duration);
    let scenarios: Vec<&str> = options
        .only
        .split(',')
        .map(str::trim)
        .flat_map(|s| match s {
            "cluster" => vec!["cluster-classic", "cluster-streams"],
            s => vec![s],
        })
        .collect();
    // Each connection costs one descriptor here and one in the server; keep a margin for both.
    let max_connections = (fd_limit as usize).saturating_sub(300).min(60_000);
    println!(
        "loadgen: {} cores, open-file limit {fd_limit}, {}s per phase",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        options.duration
    );
    let mut results = serde_json::Map::new();

    for (index, scenario) in scenarios.iter().enumerate() {
        let mut rows = Vec::new();
        let mut runs: Vec<(Kind, Vec<Value>)> = Vec::new();
        for (round, kind) in (0..options.repeat.max(1)).flat_map(|round| {
            kinds(&options, index + round)
                .into_iter()
                .map(move |k| (round, k))
        }) {
            let label = if options.repeat > 1 {
                format!("{} #{}", kind.name(), round + 1)
            } else {
                kind.name().to_string()
            };
            let (base, parser) = match scenario.strip_suffix("-msgpack") {
                Some(base) => (base, rally::Parser::MsgPack),
                None => (*scenario, rally::Parser::Json),
            };
            let server = match Server::start_parser(kind, &options.root, parser) {
                Ok(server) => server,
                Err(e) => {
                    eprintln!("loadgen: {e}");
                    std::process::exit(1);
                }
            };
            // The row's cells after the server's label, and the run's figures.
            let outcome: Result<(Vec<String>, Value), String> = match base {
                "connections" => {
                    async {
                        let at_5k = scenarios::connections(&server, 5_000).await?;
                        drop(server);
                        let server = Server::start(kind, &options.root)?;
                        let at_max = scenarios::connections(&server, max_connections).await?;
                        Ok((
                            vec![
                                kib(at_5k.rss_per_connection_bytes),
                                format!(
                                    "{} ({})",
                                    kib(at_max.rss_per_connection_bytes),
                                    at_max.connections
                                ),
                                format!("{:.1}", at_5k.cpu_us_per_connection),
                                pct(at_5k.spent.loadgen_share()),
                            ],
                            json!({ "at_5000": at_5k, "at_max": at_max }),
                        ))
                    }
                    .await
                }
                "broadcast" => scenarios::broadcast_loop(&server, 1000, 4, duration)
                    .await
                    .map(|r| {
                        (
                            vec![
                                format!("{:.0}", r.deliveries_per_s),
                                format!("{:.3}", r.cpu_us_per_delivery),
                                pct(r.spent.server_kernel_share()),
                                r.lost.to_string(),
                                pct(r.spent.server_share()),
                                pct(r.spent.loadgen_share()),
                            ],
                            json!(r),
                        )
                    }),
                "latency" => scenarios::broadcast_rate(&server, 1000, 40_000, duration, 0, 0)
                    .await
                    .map(|r| {
                        (
                            vec![
                                format!("{:.0}", r.deliveries_per_s),
                                ms(r.latency_us.p50),
                                ms(r.latency_us.p99),
                                ms(r.latency_us.p999),
                                format!("{:.3}", r.cpu_us_per_delivery),
                                pct(r.spent.server_kernel_share()),
                                r.lost.to_string(),
                                pct(r.spent.loadgen_share()),
                            ],
                            json!(r),
                        )
                    }),
                "echo" => scenarios::echo(&server, 100, duration).await.map(|r| {
                    (
                        vec![
                            format!("{:.0}", r.acks_per_s),
                            format!("{:.2}", r.cpu_us_per_ack),
                            pct(r.spent.server_kernel_share()),
                            ms(r.latency_us.p50),
                            ms(r.latency_us.p99),
                            pct(r.spent.loadgen_share()),
                        ],
                        json!(r),
                    )
                }),
                "rooms" => scenarios::rooms(&server, 1000, 10, duration)
                    .await
                    .map(|r| {
                        (
                            vec![
                                format!("{:.0}", r.deliveries_per_s),
                                format!("{:.3}", r.cpu_us_per_delivery),
                                pct(r.spent.server_kernel_share()),
                                r.wrong.to_string(),
                                r.lost.to_string(),
                                pct(r.spent.loadgen_share()),
                            ],
                            json!(r),
                        )
                    }),
                "private" => scenarios::private(&server, 50, duration).await.map(|r| {
                    (
                        vec![
                            format!("{:.0}", r.messages_per_s),
                            format!("{:.2}", r.cpu_us_per_message),
                            pct(r.spent.server_kernel_share()),
                            r.wrong.to_string(),
                            r.lost.to_string(),
                            pct(r.spent.loadgen_share()),
                        ],
                        json!(r),
                    )
                }),
                "stalled" => {
                    async {
                        let calm =
                            scenarios::broadcast_rate(&server, 1000, 40_000, duration, 0, 1024)
                                .await?;
                        let stalled = scenarios::broadcast_rate(
                            &server,
                            1000,
                            40_000,
                            duration * 2,
                            1000,
                            1024,
                        )
                        .await?;
                        Ok((
                            vec![
                                format!(
                                    "{} / {} / {}",
                                    ms(calm.latency_us.p50),
                                    ms(stalled.latency_us.p50),
                                    ms(stalled.latency_second_half_us.p50)
                                ),
                                format!(
                                    "{} / {} / {}",
                                    ms(calm.latency_us.p99),
                                    ms(stalled.latency_us.p99),
                                    ms(stalled.latency_second_half_us.p99)
                                ),
                                format!(
                                    "{:.1}–{:.1} MiB",
                                    stalled.rss_min_bytes as f64 / 1048576.0,
                                    stalled.rss_max_bytes as f64 / 1048576.0
                                ),
                                format!("{} / {}", calm.lost, stalled.lost),
                            ],
                            json!({ "without_stalled": calm, "with_stalled": stalled }),
                        ))
                    }
                    .await
                }
                "cluster-classic" | "cluster-streams" => {
                    let adapter = &scenario["cluster-".len()..];
                    scenarios::cluster(server, kind, &options.root, adapter, 1000, 40_000, duration)
                        .await
                        .map(|r| {
                            let (at_rate, closed_loop) =
                                (&r.cluster.at_rate, &r.cluster.closed_loop);
                            (
                                vec![
                                    adapter.to_owned(),
                                    format!("{:.0}", closed_loop.deliveries_per_s),
                                    format!("{:.3}", closed_loop.cpu_us_per_delivery),
                                    format!("{:.0}", at_rate.deliveries_per_s),
                                    ms(at_rate.latency_us.p50),
                                    ms(at_rate.latency_us.p99),
                                    format!("{:.3}", at_rate.cpu_us_per_delivery),
                                    format!("{:.3}", r.single_server.at_rate.cpu_us_per_delivery),
                                    format!("{:.2}x", r.vs_single_server),
                                    pct(r.redis_cpu_share),
                                    format!("{} / {}", closed_loop.lost, at_rate.lost),
                                    pct(at_rate.spent.loadgen_share()),
                                ],
                                json!(r),
                            )
                        })
                }
                other => Err(format!("unknown scenario {other}")),
            };
            match outcome {
                Ok((cells, value)) => {
                    rows.push(std::iter::once(label).chain(cells).collect());
                    match runs.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, values)) => values.push(value),
                        None => runs.push((kind, vec![value])),
                    }
                }
                Err(e) => {
                    eprintln!("loadgen: {scenario} on {label}: {e}");
                    rows.push(vec![label, format!("failed: {e}")]);
                }
            }
        }
        let (title, header): (&str, &[&str]) = match *scenario {
            "broadcast-msgpack" => ("Broadcast with the msgpack parser, 1000 clients, 4 senders, closed loop", &["server", "deliveries/s", "CPU µs / delivery", "of it kernel", "lost", "server CPU", "loadgen CPU"]),
            "echo-msgpack" => ("Echo with ack with the msgpack parser, 100 clients, closed loop", &["server", "acks/s", "CPU µs / ack", "of it kernel", "p50 ms", "p99 ms", "loadgen CPU"]),
            "connections" => ("Idle WebSocket connections", &["server", "RSS / conn at 5 000", "RSS / conn at max (conns)", "CPU µs / new conn", "loadgen CPU"]),
            "broadcast" => ("Broadcast, 1000 clients, 4 senders, closed loop", &["server", "deliveries/s", "CPU µs / delivery", "of it kernel", "lost", "server CPU", "loadgen CPU"]),
            "latency" => ("Broadcast latency at 40 000 deliveries/s (1000 clients)", &["server", "deliveries/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU µs / delivery", "of it kernel", "lost", "loadgen CPU"]),
            "echo" => ("Echo with ack, 100 clients, closed loop", &["server", "acks/s", "CPU µs / ack", "of it kernel", "p50 ms", "p99 ms", "loadgen CPU"]),
            "rooms" => ("Rooms: 1000 clients in 10 rooms, one sender per room", &["server", "deliveries/s", "CPU µs / delivery", "of it kernel", "wrong", "lost", "loadgen CPU"]),
            "private" => ("Private messages: 50 pairs, ping-pong by socket id", &["server", "messages/s", "CPU µs / message", "of it kernel", "wrong", "lost", "loadgen CPU"]),
            "stalled" => ("1000 stalled clients added to a 40 000 deliveries/s broadcast (1 KiB payload): without / with (whole phase) / with (second half)", &["server", "p50 ms", "p99 ms", "server RSS with stalled", "lost"]),
            "cluster-classic" | "cluster-streams" => ("Cluster: two servers sharing one Redis, 1000 clients split over both, 4 senders (2 per server), closed loop and 40 000 deliveries/s; CPU is both servers' and Redis's, against one server alone under the same load", &["server", "adapter", "loop deliveries/s", "loop CPU µs / delivery", "at 40k: deliveries/s", "p50 ms", "p99 ms", "CPU µs / delivery", "one server alone: CPU µs / delivery", "vs single server", "of it Redis", "lost (loop / at 40k)", "loadgen CPU"]),
            _ => (scenario, &["server", "result"]),
        };
        table(title, header, &rows);
        let mut figures = serde_json::Map::new();
        let mut medians = Vec::new();
        for (kind, values) in runs {
            let pointer = key_figure(scenario).map_or("", |(p, _)| p);
            let (median, key) = median_run(values, pointer);
            medians.push((kind, key));
            figures.insert(kind.name().into(), median);
        }
        if let (Some((_, what)), true) = (key_figure(scenario), options.repeat > 1) {
            let listed: Vec<String> = medians
                .iter()
                .map(|(kind, key)| format!("{} {key:.2}", kind.name()))
                .collect();
            let of = |wanted: Kind| medians.iter().find(|(k, _)| *k == wanted).map(|m| m.1);
            // Every key figure is a cost: Node's over Rally's says how many times cheaper Rally is.
            let ratio = match (of(Kind::Node), of(Kind::Rally)) {
                (Some(node), Some(rally)) if rally > 0.0 => {
                    format!(" (Node / Rally = {:.1})", node / rally)
                }
                _ => String::new(),
            };
            println!("\nmedian {what}: {}{ratio}", listed.join(", "));
        }
        match scenario.strip_prefix("cluster-") {
            // One entry, "cluster", with the figures of each adapter under its name.
            Some(adapter) => {
                if let Value::Object(adapters) = results
                    .entry("cluster")
                    .or_insert_with(|| Value::Object(Default::default()))
                {
                    adapters.insert(adapter.into(), Value::Object(figures));
                }
            }
            None => {
                results.insert((*scenario).into(), Value::Object(figures));
            }
        }
    }

    if let Some(parent) = std::path::Path::new(&options.out).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match serde_json::to_string_pretty(&Value::Object(results)) {
        Ok(text) => {
            if let Err(e) = std::fs::write(&options.out, text) {
                eprintln!("loadgen: cannot write {}: {e}", options.out);
            } else {
                println!("\nfigures written to {}", options.out);
            }
        }
        Err(e) => eprintln!("loadgen: {e}"),
    }
}
