//! Many Asterisk servers on one PostgreSQL, measured: real servers taking
//! calls, and a synthetic load standing in for more servers — pgbench inside
//! the root, one connection per server, sending what a server sends: the
//! sync polls (contacts after the newest id read, notes of forgotten
//! numbers, owners), a contact written and a cold read per call.
//! The figures: the sync lag between real servers (a contact learned on one
//! until another's cache has it), the database's CPU, statements per second
//! per server, and the real servers' lookup times.

use std::collections::BTreeMap;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ami::Ami;
use super::calls::*;
use super::db::{Kind, Server};
use super::root::root;
use super::Asterisk;

/// Calls a second each server takes (a contact written and a cold read
/// each); the polls follow `sync_interval`.
pub const CALLS_PER_SECOND: f64 = 1.0;

/// How far back each synthetic poll re-reads: 0, as the module does since
/// it follows gaps in the ids; FLEET_OVERLAP=5 for the module before that,
/// which re-read the last 5 s of rows on every poll.
fn overlap_seconds() -> f64 {
    std::env::var("FLEET_OVERLAP").ok().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

pub struct Fleet {
    pub server: Server,
    pub real: Vec<(Asterisk, Ami)>,
    sync_interval_ms: u64,
    /// Probes made so far (numbers are never reused).
    probes: u32,
}

/// What one phase measured.
#[derive(Debug, Default)]
pub struct Figures {
    pub real: usize,
    pub synthetic: usize,
    pub seconds: f64,
    /// Sync lag samples: learned on one real server until another has it.
    pub lags: Vec<Duration>,
    /// Probes whose contact never arrived.
    pub missed: usize,
    /// The database's CPU time over the phase, in cores (1.0 = one core busy).
    pub db_cores: f64,
    /// Statements the database ran a second, in all (pg_stat_statements).
    pub statements_per_second: f64,
    /// pgbench's transactions a second (one statement each) and its figures.
    pub synthetic_per_second: f64,
    pub synthetic_statements: u64,
    pub synthetic_failed: u64,
    pub synthetic_inserts: u64,
    /// The synthetic servers' poll delay (the statement's time plus how
    /// late pgbench could start it): p50, p99.
    pub poll_delay: (Duration, Duration),
    /// Rows the synthetic servers wrote, as counted in the table.
    pub synthetic_stored: u64,
    /// Contacts the real servers learned this phase, and stored.
    pub learned: u64,
    pub stored: u64,
    /// Per real server: `sticky show status` Lookups p99 and Store reads p99.
    pub lookups: Vec<(String, String)>,
    /// The statements that cost the database most (calls, mean ms, text).
    pub top: Vec<String>,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

impl Figures {
    pub fn lag(&self, q: f64) -> Duration {
        let mut sorted = self.lags.clone();
        sorted.sort();
        quantile(&sorted, q)
    }

    /// One line for a table.
    pub fn row(&self) -> String {
        let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
        let real_per_server = (self.statements_per_second - self.synthetic_per_second).max(0.0) / self.real as f64;
        format!(
            "| {} + {} | {} | {} / {} / {} | {}/{} | {:.2} | {:.0} | {:.1} | {:.1} | {} / {} | {} | {}/{} |",
            self.real,
            self.synthetic,
            self.lags.len(),
            ms(self.lag(0.5)),
            ms(self.lag(0.99)),
            ms(self.lag(1.0)),
            self.missed,
            self.lags.len() + self.missed,
            self.db_cores,
            self.statements_per_second,
            real_per_server,
            if self.synthetic > 0 { self.synthetic_per_second / self.synthetic as f64 } else { 0.0 },
            ms(self.poll_delay.0),
            ms(self.poll_delay.1),
            self.lookups.iter().map(|(l, s)| format!("{l} · {s}")).collect::<Vec<_>>().join("; "),
            self.stored,
            self.learned,
        )
    }

    pub const HEADER: &'static str = "| servers (real + synthetic) | lag samples | sync lag p50 / p99 / max (ms) | \
        missed | DB CPU (cores) | statements/s | per real server | per synthetic server | synthetic poll delay \
        p50 / p99 (ms) | real servers' lookup p99 · store read p99 | stored/learned |\n|---|---|---|---|---|---|---|---|---|---|---|";
}

/// CPU seconds of a process and its children, live and ended.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = |stat: &str, fields: &[usize]| -> u64 {
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let values: Vec<&str> = after.split_whitespace().collect();
        // Fields after the name start at field 3 (state).
        fields.iter().filter_map(|f| values.get(f - 3)?.parse::<u64>().ok()).sum()
    };
    let own = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let mut total = ticks(&own, &[14, 15, 16, 17]);
    for entry in fs::read_dir("/proc").into_iter().flatten().filter_map(Result::ok) {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if parent == Some(pid) {
            total += ticks(&stat, &[14, 15]);
        }
    }
    total as f64 / 100.0
}

fn count(server: &Server, filter: &str) -> u64 {
    server.sql(&format!("SELECT count(*) FROM sticky_history WHERE {filter}")).trim().parse().expect("a count")
}

impl Fleet {
    /// One PostgreSQL (with pg_stat_statements, room for many connections)
    /// and `real` Asterisk servers on it.
    pub fn start(real: usize, sync_interval_ms: u64) -> Fleet {
        let mut server = Server::start(Kind::Postgres, "fleet");
        server.settings = vec![
            "max_connections=500".into(),
            "shared_preload_libraries=pg_stat_statements".into(),
            "shared_buffers=256MB".into(),
        ];
        server.stop();
        server.run();
        server.sql("CREATE EXTENSION pg_stat_statements");
        let sticky = format!(
            "{}dsn = {}\nsync_interval = {sync_interval_ms}ms\nquery_timeout = 1s\n",
            routing_sticky(),
            server.dsn_for_conf()
        );
        let real: Vec<_> = (0..real).map(|i| start_routing(&format!("fleet{i}"), &sticky)).collect();
        // The tables are there before any synthetic server polls them.
        for (i, (asterisk, ami)) in real.iter().enumerate() {
            inbound(asterisk, ami, &format!("791400000{i:02}"), "101");
            writes_done(asterisk);
        }
        Fleet { server, real, sync_interval_ms, probes: 0 }
    }

    /// A phase: the real servers take calls for `seconds` while `synthetic`
    /// more servers' statements run. Each real server starts the phase
    /// afresh (its figures are the phase's).
    pub fn run(&mut self, synthetic: usize, seconds: u64) -> Figures {
        let mut figures = Figures { real: self.real.len(), synthetic, ..Figures::default() };
        for (asterisk, ami) in &mut self.real {
            asterisk.restart();
            *ami = asterisk.ami();
            for agent in ["101", "102", "103"] {
                set_state(asterisk, agent, "NOT_INUSE");
            }
        }
        let names: Vec<String> = self.real.iter().map(|(a, _)| format!("'{}'", a.name)).collect();
        let real_filter = format!("node IN ({})", names.join(", "));
        let real_before = count(&self.server, &real_filter);
        let synthetic_before = count(&self.server, "node LIKE 'synth%'");
        self.server.sql("SELECT pg_stat_statements_reset()");
        let pid = self.server.pid().expect("PostgreSQL runs");
        let cpu_before = cpu_seconds(pid);
        let started = Instant::now();
        let bench = (synthetic > 0).then(|| self.pgbench(synthetic, seconds));

        // The real servers' calls: a probe at a time, each a contact learned
        // on one server and awaited in another's cache, and a cold lookup on
        // each of the others.
        let n = self.real.len();
        while started.elapsed() < Duration::from_secs(seconds) {
            let i = self.probes;
            self.probes += 1;
            let (a, b) = (i as usize % n, (i as usize + 1) % n);
            let number = format!("7915{i:07}");
            let agent = ["101", "102", "103"][i as usize % 3];
            let (observer, _) = &self.real[b];
            assert_eq!(observer.eval(&format!("LAST_AGENT({number})")), "", "a new number");
            let (learner, learner_ami) = &self.real[a];
            inbound(learner, learner_ami, &number, agent);
            let learned = Instant::now();
            let arrived = super::wait_for(Duration::from_secs(10), || {
                (observer.eval(&format!("LAST_AGENT({number})")) == agent).then(Instant::now)
            });
            match arrived {
                Some(at) => figures.lags.push(at - learned),
                None => figures.missed += 1,
            }
            for (c, (_, ami)) in self.real.iter().enumerate() {
                if c != a && c != b {
                    client_calls(ami, &format!("7913{i:07}"), &[("NOQUEUE", "1")]);
                }
            }
        }
        if let Some((child, prefix)) = bench {
            self.pgbench_figures(child, &prefix, &mut figures);
        }
        figures.seconds = started.elapsed().as_secs_f64();
        figures.synthetic_per_second = figures.synthetic_statements as f64 / figures.seconds;
        figures.db_cores = (cpu_seconds(pid) - cpu_before) / figures.seconds;
        let statements: f64 =
            self.server.sql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements").trim().parse().unwrap_or(0.0);
        figures.statements_per_second = statements / figures.seconds;
        figures.top = self
            .server
            .sql(
                "SELECT calls, round(mean_exec_time::numeric, 3), round(total_exec_time::numeric), \
                 left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements \
                 ORDER BY total_exec_time DESC LIMIT 8",
            )
            .lines()
            .map(str::to_string)
            .collect();
        for (asterisk, _) in &self.real {
            writes_done(asterisk);
            figures.learned += learned_count(asterisk);
            let status = asterisk.cli("sticky show status");
            let p99 = |label: &str| {
                let text = super::field(&status, label);
                text.split("p99 ").nth(1).map_or(text.clone(), |rest| rest.trim_end_matches(')').to_string())
            };
            let lookups = p99("Lookups");
            let lookups = lookups.split(')').next().unwrap_or_default().to_string();
            figures.lookups.push((lookups, p99("Store reads")));
        }
        // Each restart's first contact is not the phase's: counted by node.
        figures.stored = count(&self.server, &real_filter) - real_before;
        figures.synthetic_stored = count(&self.server, "node LIKE 'synth%'") - synthetic_before;
        figures
    }

    /// Starts pgbench for `servers` synthetic servers: one client (and
    /// connection) each, their statements at their rates, every one logged.
    fn pgbench(&self, servers: usize, seconds: u64) -> (Child, String) {
        let root = root();
        let dir = format!("{}/pgbench", self.server.dir_inside());
        let host_dir = root.host_path(&dir);
        let _ = fs::remove_dir_all(&host_dir);
        fs::create_dir_all(&host_dir).expect("pgbench dir");
        let polls_per_second = 1000.0 / self.sync_interval_ms as f64;
        // Rows written a second by the whole fleet, and so how many ids
        // back the overlap re-read starts.
        let rows_per_second = (servers + self.real.len()) as f64 * CALLS_PER_SECOND;
        let overlap = (rows_per_second * overlap_seconds()).ceil() as u64;
        let columns = "number_key, agent_id, agent_interface, direction, disposition, started_at, node, call_id, \
                       client_number, scope";
        let scripts = [
            // The sync poll (\aset keeps the last row's id: the new mark).
            (
                "sync",
                polls_per_second,
                format!(
                    "\\set from :id - {overlap}\nSELECT id, {columns} FROM sticky_history WHERE id > :from ORDER BY \
                     id LIMIT 5000 \\aset\n"
                ),
            ),
            (
                "notes",
                polls_per_second,
                "SELECT id, number_key, forgotten_at FROM sticky_forget WHERE id > :nid ORDER BY id LIMIT 1000;\n"
                    .to_string(),
            ),
            (
                "owners",
                polls_per_second,
                "SELECT id, number_key, scope, agent_id, agent_interface, assigned_at, node FROM sticky_owner \
                 WHERE id > :oid ORDER BY id LIMIT 1000;\n"
                    .to_string(),
            ),
            (
                "insert",
                CALLS_PER_SECOND,
                format!(
                    "\\set k random(9000000000, 9999999999)\n\\set r random(1, 1000000000000000)\n\\set a 2000 + :k % 200\n\
                     INSERT INTO sticky_history ({columns}) VALUES (:k::text, :a::text, 'PJSIP/' || :a::text, 'in', \
                     'ANSWERED', (extract(epoch from clock_timestamp()) * 1000)::bigint, 'synth' || :client_id::text, \
                     'synth:' || :r::text, '7' || :k::text, '') ON CONFLICT (call_id) DO NOTHING;\n"
                ),
            ),
            (
                "read",
                CALLS_PER_SECOND,
                format!(
                    "\\set k random(9000000000, 9999999999)\nSELECT {columns} FROM sticky_history WHERE number_key \
                     = :k::text AND started_at >= 0 ORDER BY started_at DESC, id DESC LIMIT 32;\n"
                ),
            ),
        ];
        let per_server: f64 = scripts.iter().map(|(_, rate, _)| rate).sum();
        let mut args: Vec<String> = Vec::new();
        for (name, rate, text) in &scripts {
            fs::write(host_dir.join(format!("{name}.sql")), text).expect("a pgbench script");
            // Weights are integers: rates in hundredths.
            args.push(format!("--file={dir}/{name}.sql@{}", (rate * 100.0).round() as u64));
        }
        let last_id = self.server.sql("SELECT coalesce(max(id), 0) FROM sticky_history").trim().to_string();
        let prefix = format!("{dir}/log");
        let threads = servers.clamp(1, 2).to_string();
        let child = Command::new("chroot")
            .arg(&root.path)
            .args(["pgbench", "-h", &self.server.host, "-p", &self.server.port.to_string(), "-U", "sticky"])
            .args(["-n", "-M", "extended", "-c", &servers.to_string(), "-j", &threads])
            .args(["-R", &format!("{:.1}", per_server * servers as f64), "-T", &seconds.to_string()])
            .args(["-D", &format!("id={last_id}"), "-D", "nid=0", "-D", "oid=0"])
            .args(["--log", &format!("--log-prefix={prefix}")])
            .args(&args)
            .arg("postgres")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pgbench");
        (child, prefix)
    }

    fn pgbench_figures(&self, child: Child, prefix: &str, figures: &mut Figures) {
        let output = child.wait_with_output().expect("pgbench ran");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let errors = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "pgbench failed:\n{text}\n{errors}");
        let line_value = |label: &str| {
            text.lines()
                .find(|l| l.starts_with(label))
                .and_then(|l| l[label.len()..].split_whitespace().next()?.parse::<f64>().ok())
        };
        figures.synthetic_failed = line_value("number of failed transactions:").unwrap_or(0.0) as u64;
        // The transaction log: client, number, latency (us), script, epoch,
        // us, schedule lag (us).
        let root = root();
        let dir = root.host_path(prefix.rsplit_once('/').expect("a directory").0);
        let mut delays = Vec::new();
        let mut by_script: BTreeMap<u32, u64> = BTreeMap::new();
        for entry in fs::read_dir(&dir).expect("pgbench logs").filter_map(Result::ok) {
            if !entry.file_name().to_string_lossy().starts_with("log") {
                continue;
            }
            for line in fs::read_to_string(entry.path()).unwrap_or_default().lines() {
                let fields: Vec<u64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
                if fields.len() < 7 {
                    continue;
                }
                *by_script.entry(fields[3] as u32).or_default() += 1;
                if fields[3] == 0 {
                    delays.push(Duration::from_micros(fields[2] + fields[6]));
                }
            }
        }
        delays.sort();
        figures.poll_delay = (quantile(&delays, 0.5), quantile(&delays, 0.99));
        figures.synthetic_inserts = by_script.get(&3).copied().unwrap_or(0);
        // Statements the synthetic servers ran (one a transaction): the
        // rest of the database's are the real servers'.
        figures.synthetic_statements = by_script.values().sum();
    }
}
